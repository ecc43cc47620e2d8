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
#define DEVBG_STORE_SCHEMA_VERSION 2

/* Opens (creating when missing) devbg.db in @state_dir, checks it (PRAGMA
 * quick_check) and brings its schema up to date. A database from a newer
 * devbg is refused. One that SQLite reports corrupt (or no database at all)
 * is renamed, with its -wal and -shm, to devbg.db.corrupt-<UTC time> in
 * @state_dir, named in a critical log message, and a fresh one is used. */
DevbgStore *devbg_store_open (const char *state_dir,
                              GError    **error);

/* After a database was moved aside: the instances it still showed running
 * (instance ID, app ID, pid, pid start time, cgroup only), for the caller
 * to end; NULL when none could be read, and on every later call. */
GPtrArray  *devbg_store_take_salvaged_instances (DevbgStore *store);

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

/* One task instance: while it runs (in the instances table, so a devbgd
 * that died can find and end it), then in the history with its outcome. */
typedef struct {
  char            *instance_id;
  char            *task_id;
  char            *app_id;
  char            *name;
  char            *entry_point;
  DevbgTriggerType trigger;
  char            *device_id;
  guint32          uid;
  gint32           pid;
  guint64          pid_start;   /* /proc/PID/stat start time: a reused pid is not ours */
  char            *cgroup;      /* may be NULL */
  gint64           started_us;
  /* outcome: history only */
  gint64           finished_us;
  gboolean         success;
  char            *error;       /* "" on success */
  char            *cancel_reason; /* "" when not canceled */
} DevbgInstanceRecord;

void devbg_instance_record_free (DevbgInstanceRecord *rec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgInstanceRecord, devbg_instance_record_free)

/* A completion event kept until the app acknowledges it. */
typedef struct {
  char    *event_id;
  char    *app_id;
  char    *task_id;
  char    *instance_id;
  gboolean success;
  char    *error;
  char    *cancel_reason;
  gint64   finished_us;
} DevbgEventRecord;

void devbg_event_record_free (DevbgEventRecord *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgEventRecord, devbg_event_record_free)

gboolean   devbg_store_add_instance (DevbgStore                *store,
                                     const DevbgInstanceRecord *rec,
                                     GError                   **error);

/* Instances recorded as running: after a crash, the ones to end. */
GPtrArray *devbg_store_list_instances (DevbgStore *store,
                                       GError    **error);

/* In one transaction: the instance leaves the running table, enters the
 * history with its outcome (@rec's outcome fields), and @event (its
 * completion event for the app) is queued. Durable when it returns. */
gboolean   devbg_store_finish_instance (DevbgStore                *store,
                                        const DevbgInstanceRecord *rec,
                                        const DevbgEventRecord    *event,
                                        GError                   **error);

/* The app's pending completion events, oldest first. */
GPtrArray *devbg_store_list_events (DevbgStore *store,
                                    const char *app_id,
                                    GError    **error);

/* Forgets the app's events with these IDs; others' IDs are ignored. */
gboolean   devbg_store_ack_events (DevbgStore        *store,
                                   const char        *app_id,
                                   const char *const *event_ids,
                                   GError           **error);

/* Finished instances, newest first: those of @app_id or run as @uid, or all
 * when @all. At most @limit. */
GPtrArray *devbg_store_list_history (DevbgStore *store,
                                     const char *app_id,
                                     guint32     uid,
                                     gboolean    all,
                                     guint       limit,
                                     GError    **error);

G_END_DECLS
