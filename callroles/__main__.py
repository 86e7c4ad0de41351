from callroles.base.cli import main

raise SystemExit(main())
