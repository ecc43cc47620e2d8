/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The history and events tables as schema 4 had them, one column per
 * field (schema 5 keeps each row's packed record): the store tests turn a
 * new database back into a version 4 one with this, then open it to see
 * the migration keep every row.
 */
#pragma once

#define STORE_SCHEMA_4_TABLES \
  "DROP TABLE history;" \
  "DROP TABLE events;" \
  "CREATE TABLE history (" \
  "  instance_id   TEXT PRIMARY KEY NOT NULL," \
  "  task_id       TEXT NOT NULL," \
  "  app_id        TEXT NOT NULL," \
  "  name          TEXT NOT NULL," \
  "  entry_point   TEXT NOT NULL," \
  "  trigger       TEXT NOT NULL," \
  "  device_id     TEXT NOT NULL," \
  "  uid           INTEGER NOT NULL," \
  "  started_us    INTEGER NOT NULL," \
  "  finished_us   INTEGER NOT NULL," \
  "  success       INTEGER NOT NULL," \
  "  error         TEXT NOT NULL," \
  "  cancel_reason TEXT NOT NULL" \
  ");" \
  "CREATE INDEX history_by_time ON history (finished_us);" \
  "CREATE INDEX history_by_owner ON history (uid, app_id);" \
  "CREATE TABLE events (" \
  "  event_id      TEXT PRIMARY KEY NOT NULL," \
  "  app_id        TEXT NOT NULL," \
  "  task_id       TEXT NOT NULL," \
  "  instance_id   TEXT NOT NULL," \
  "  success       INTEGER NOT NULL," \
  "  error         TEXT NOT NULL," \
  "  cancel_reason TEXT NOT NULL," \
  "  finished_us   INTEGER NOT NULL," \
  "  uid           INTEGER NOT NULL DEFAULT -1" \
  ");" \
  "CREATE INDEX events_by_owner ON events (uid, app_id);"
