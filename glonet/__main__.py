from glonet.cli import main

raise SystemExit(main())
