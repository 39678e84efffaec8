from bench.testbed.main import main

raise SystemExit(main())
