from m5syndicate.cli import main

main()
