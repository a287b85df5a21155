"""The HTML QA report: a gate observer that samples frames, and the writer of the one-file report."""

from motqa.report.html import default_report_path, library_versions, render_report, write_report
from motqa.report.samples import ReportCollector

__all__ = ["ReportCollector", "default_report_path", "library_versions", "render_report", "write_report"]
