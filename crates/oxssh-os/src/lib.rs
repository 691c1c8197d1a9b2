//! OS glue for the `oxsshd` system daemon.
