from autostack.cli import main

main()
