// The schema as an ordered list of numbered migrations. A migration is never edited once
// released: a change is a new entry at the end, so every existing database can be carried
// forward step by step and a newer database is recognised and refused by an older binary.
#pragma once

#include <span>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "store/sqlite_db.hpp"

namespace vc::store {

struct Migration {
  int version = 0;  // 1, 2, 3, ... with no gaps
  std::string_view description;
  std::string_view sql;  // one or more statements
};

// The migrations this binary knows, oldest first.
std::span<const Migration> SqliteMigrations();

// Highest version recorded in schema_migrations (0 for a new database).
Result<int> SchemaVersion(SqliteDb& db);

// Applies every migration not yet recorded, each in its own transaction stamped with the
// clock's time. Refuses a database written by a newer binary and a SQLite file that belongs to
// something else.
Status ApplyMigrations(SqliteDb& db, std::span<const Migration> migrations, const Clock& clock);

}  // namespace vc::store
