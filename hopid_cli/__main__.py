from hopid_cli.app import main

main()
