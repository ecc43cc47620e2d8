/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The service's state: one SQLite database (WAL, synchronous=FULL), its
 * schema versioned by PRAGMA user_version. A write returns only once it is
 * durable, so a D-Bus call that succeeded survives a crash.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

/* Everything an app owns belongs to the pair (user, app ID): the same
 * installed app run by two users is two owners, with their own
 * registrations, instances, events, history and limits. */
typedef struct {
  guint32     uid;
  const char *app_id;
} DevbgOwner;

/* Lists are read a page at a time: a cursor is the store position (rowid)
 * of the last row a page held; 0 starts at the beginning. */
#define DEVBG_STORE_CURSOR_START 0

typedef struct {
  char            *task_id;
  guint32          uid;
  char            *app_id;
  char            *name;
  char            *entry_point;
  DevbgTriggerType trigger;
  gint64           created_us; /* wall clock, microseconds since the epoch */
  gint64           cursor;     /* its position, for the next page */
} DevbgRegistrationRecord;

void devbg_registration_record_free (DevbgRegistrationRecord *reg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgRegistrationRecord, devbg_registration_record_free)

#define DEVBG_TYPE_STORE (devbg_store_get_type ())
G_DECLARE_FINAL_TYPE (DevbgStore, devbg_store, DEVBG, STORE, GObject)

/* The schema version this build writes. */
#define DEVBG_STORE_SCHEMA_VERSION 6

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

/* Changes whenever a row does: what was read at one generation reads the
 * same while it lasts. */
guint64     devbg_store_get_generation (DevbgStore *store);

gboolean    devbg_store_add_registration (DevbgStore              *store,
                                          const DevbgRegistrationRecord *reg,
                                          GError                 **error);

/* The same, with group commit: registrations that arrive together share
 * one transaction (one fsync), and each completes only once it is durable.
 * A row refused on its own (a duplicate task ID) fails at once. */
void        devbg_store_add_registration_async  (DevbgStore                    *store,
                                                 const DevbgRegistrationRecord *reg,
                                                 GAsyncReadyCallback            callback,
                                                 gpointer                       user_data);
gboolean    devbg_store_add_registration_finish (DevbgStore   *store,
                                                 GAsyncResult *result,
                                                 GError      **error);

/* Removes @task_id if it belongs to @owner; DEVBG_ERROR_NO_SUCH_REGISTRATION
 * otherwise (the same error whether it is another owner's or does not
 * exist, so one owner learns nothing of another's). */
gboolean    devbg_store_remove_registration (DevbgStore       *store,
                                             const DevbgOwner *owner,
                                             const char       *task_id,
                                             GError          **error);

/* Called per registration, oldest first; its strings are valid during the
 * call only. Returns FALSE to stop. */
typedef gboolean (*DevbgRegistrationVisitor) (const DevbgRegistrationRecord *reg,
                                              gpointer                       user_data);

/* @owner's registrations after @cursor as one page of packed records, as
 * devbg_registration_set_pack() makes it; NULL when they cannot be read. */
GBytes     *devbg_store_pack_registrations (DevbgStore       *store,
                                            const DevbgOwner *owner,
                                            gint64            cursor,
                                            gsize             max_bytes,
                                            gint64           *last_cursor,
                                            gboolean         *more,
                                            GError          **error);

/* Registrations of @owner, oldest first: at most @limit after @cursor. */
GPtrArray  *devbg_store_list_registrations (DevbgStore       *store,
                                            const DevbgOwner *owner,
                                            gint64            cursor,
                                            guint             limit,
                                            GError          **error);

DevbgRegistrationRecord *devbg_store_get_registration (DevbgStore       *store,
                                                       const DevbgOwner *owner,
                                                       const char       *task_id,
                                                       GError          **error);

/* Registrations of @owner, or of every owner when NULL. */
gint64      devbg_store_count_registrations (DevbgStore       *store,
                                             const DevbgOwner *owner,
                                             GError          **error);

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
  gint64           cursor;      /* history only: its position, for the next page */
} DevbgInstanceRecord;

void devbg_instance_record_free (DevbgInstanceRecord *rec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgInstanceRecord, devbg_instance_record_free)

/* A completion event kept until the app acknowledges it. */
typedef struct {
  char    *event_id;
  guint32  uid;
  char    *app_id;
  char    *task_id;
  char    *instance_id;
  gboolean success;
  char    *error;
  char    *cancel_reason;
  gint64   finished_us;
  gint64   cursor;  /* its position, for the next page */
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

/* What a DevbgRecordVisitor made of a row. */
typedef enum {
  DEVBG_RECORD_TAKEN,   /* go on */
  DEVBG_RECORD_FULL,    /* stop here */
  DEVBG_RECORD_DAMAGED, /* not whole (lib/devbg-records.h): the store passes it over, and says so */
} DevbgRecordVisit;

/* Called per row of a packed list with its record (lib/devbg-records.h;
 * the database's, valid during the call only, its wholeness the
 * visitor's to check: a page's writer splits it into fields anyway) and
 * its position for the next page. */
typedef DevbgRecordVisit (*DevbgRecordVisitor) (const guint8 *record,
                                                gsize         size,
                                                gint64        cursor,
                                                gpointer      user_data);

/* Visits @owner's pending completion events after @cursor, oldest first. */
gboolean   devbg_store_foreach_event (DevbgStore        *store,
                                      const DevbgOwner  *owner,
                                      gint64             cursor,
                                      DevbgRecordVisitor visit,
                                      gpointer           user_data,
                                      GError           **error);

/* @owner's pending completion events, oldest first: at most @limit after
 * @cursor (copies). */
GPtrArray *devbg_store_list_events (DevbgStore       *store,
                                    const DevbgOwner *owner,
                                    gint64            cursor,
                                    guint             limit,
                                    GError          **error);

gint64     devbg_store_count_events (DevbgStore       *store,
                                     const DevbgOwner *owner,
                                     GError          **error);

/* Forgets @owner's events with these IDs; others' IDs are ignored. */
gboolean   devbg_store_ack_events (DevbgStore        *store,
                                   const DevbgOwner  *owner,
                                   const char *const *event_ids,
                                   GError           **error);

/* Which rows of History or of the stored consent a caller sees: every
 * user's (@all), or @uid's, and of those only @app_id's when it is set. */
typedef struct {
  gboolean    all;
  guint32     uid;
  const char *app_id;
} DevbgListScope;

/* Visits the finished instances in @scope before @cursor
 * (DEVBG_STORE_CURSOR_START for the newest), newest first. */
gboolean   devbg_store_foreach_history (DevbgStore              *store,
                                        const DevbgListScope *scope,
                                        gint64                   cursor,
                                        DevbgRecordVisitor       visit,
                                        gpointer                 user_data,
                                        GError                 **error);

/* Finished instances in @scope, newest first: at most @limit before
 * @cursor (copies). */
GPtrArray *devbg_store_list_history (DevbgStore              *store,
                                     const DevbgListScope *scope,
                                     gint64                   cursor,
                                     guint                    limit,
                                     GError                 **error);

/* Keeps the history bounded: forgets @owner's finished instances beyond the
 * newest @max_per_owner, and everyone's older than @min_finished_us. */
gboolean   devbg_store_prune_history (DevbgStore       *store,
                                      const DevbgOwner *owner,
                                      guint             max_per_owner,
                                      gint64            min_finished_us,
                                      GError          **error);

/* Stores @owner's use consent for @model_id; durable when it returns. */
gboolean   devbg_store_add_consent (DevbgStore       *store,
                                    const DevbgOwner *owner,
                                    const char       *model_id,
                                    gint64            created_us,
                                    GError          **error);

/* 1 when stored, 0 when not, -1 with @error when the store failed. */
int        devbg_store_has_consent (DevbgStore       *store,
                                    const DevbgOwner *owner,
                                    const char       *model_id,
                                    GError          **error);

/* Visits the stored consents in @scope after @cursor (0 for the first),
 * oldest first: each as a packed ListPermissions record
 * (DevbgPermissionEntry's fields). A row whose text is damaged is passed
 * over, and said. */
gboolean   devbg_store_foreach_consent (DevbgStore            *store,
                                        const DevbgListScope  *scope,
                                        gint64                 cursor,
                                        DevbgRecordVisitor     visit,
                                        gpointer               user_data,
                                        GError               **error);

/* Forgets @owner's consent for @model_id (for every model when NULL);
 * returns how many were removed, or -1 with @error. */
gint64     devbg_store_remove_consent (DevbgStore       *store,
                                       const DevbgOwner *owner,
                                       const char       *model_id,
                                       GError          **error);

G_END_DECLS
