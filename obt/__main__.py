from obt.cli import main

raise SystemExit(main())
