from sentirnn.cli.app import main

main()
