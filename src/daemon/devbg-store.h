/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The service's state: one SQLite database (WAL, synchronous=FULL), its
 * schema versioned by PRAGMA user_version. A write returns only once it is
 * durable, so a D-Bus call that succeeded survives a crash.
 */
#pragma once

#include <glib-object.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

typedef struct {
  char            *task_id;
  char            *app_id;
  char            *name;
  char            *entry_point;
  DevbgTriggerType trigger;
  gint64           created_us; /* wall clock, microseconds since the epoch */
} DevbgRegistrationRecord;

void devbg_registration_record_free (DevbgRegistrationRecord *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgRegistrationRecord, devbg_registration_record_free)

#define DEVBG_TYPE_STORE (devbg_store_get_type ())
G_DECLARE_FINAL_TYPE (DevbgStore, devbg_store, DEVBG, STORE, GObject)

/* The schema version this build writes. */
#define DEVBG_STORE_SCHEMA_VERSION 1

/* Opens (creating when missing) devbg.db in @state_dir and brings its schema
 * up to date. A database from a newer devbg is refused. */
DevbgStore *devbg_store_open (const char *state_dir,
                              GError    **error);

guint       devbg_store_get_schema_version (DevbgStore *store);

gboolean    devbg_store_add_registration (DevbgStore              *store,
                                          const DevbgRegistrationRecord *reg,
                                          GError                 **error);

/* Removes @task_id if it belongs to @app_id; DEVBG_ERROR_NO_SUCH_REGISTRATION
 * otherwise (the same error whether it is another app's or does not exist,
 * so one app learns nothing of another's). */
gboolean    devbg_store_remove_registration (DevbgStore *store,
                                             const char *app_id,
                                             const char *task_id,
                                             GError    **error);

/* Registrations of @app_id (all apps when NULL), oldest first. */
GPtrArray  *devbg_store_list_registrations (DevbgStore *store,
                                            const char *app_id,
                                            GError    **error);

DevbgRegistrationRecord *devbg_store_get_registration (DevbgStore *store,
                                                 const char *app_id,
                                                 const char *task_id,
                                                 GError    **error);

gint64      devbg_store_count_registrations (DevbgStore *store,
                                             const char *app_id,
                                             GError    **error);

G_END_DECLS
