"""The kernel: app factory, database, auth, errors, calendar, scheduler, privacy, i18n."""
