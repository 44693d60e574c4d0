"""What the bundle runs: the same `desktop-llm` command a source install has."""

from desktop_llm.cli import main

raise SystemExit(main())
