from sentirnn.cli import main

main()
