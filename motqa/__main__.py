"""`python -m motqa`."""

from motqa.cli import main

main()
