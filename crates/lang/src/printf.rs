//! printf format strings (filled in by the printf work).
