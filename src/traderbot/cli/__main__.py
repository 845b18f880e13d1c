from traderbot.cli import main

raise SystemExit(main())
