from rdpkit.cli import main

main()
