from callroles.cli import main

raise SystemExit(main())
