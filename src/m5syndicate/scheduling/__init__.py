"""The service side: when jobs fire (plan), who fires them (leader), APScheduler wiring."""
