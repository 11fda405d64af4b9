from plimsoll.cli.main import main

main()
