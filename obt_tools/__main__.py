from obt_tools.cli import main

raise SystemExit(main())
