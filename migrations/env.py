from dialer.store.migrate_env import run

run()
