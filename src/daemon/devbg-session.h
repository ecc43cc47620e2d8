/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgSession: the logind facts devbgd needs. Which session a caller is
 * in (from its pid), whether that session is the active one of its seat
 * and unlocked (the foreground row of the seed), and, followed by signals
 * rather than polled, when a known session locks, unlocks or ends (the
 * CPU window of running tasks, and LoggingOff).
 *
 * Every call to logind is asynchronous with a timeout. Where logind does
 * not run, or does not answer, a caller is in no session: never in the
 * foreground, logged once.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DEVBG_TYPE_SESSION (devbg_session_get_type ())
G_DECLARE_FINAL_TYPE (DevbgSession, devbg_session, DEVBG, SESSION, GObject)

typedef struct {
  char    *id;     /* NULL: the caller is in no session */
  gboolean active; /* the active session of its seat */
  gboolean locked; /* LockedHint */
} DevbgSessionInfo;

void devbg_session_info_free (DevbgSessionInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgSessionInfo, devbg_session_info_free)

DevbgSession *devbg_session_new (GDBusConnection *connection,
                                 guint            timeout_ms);

/* The session of process @pid. Never fails: with logind absent or silent,
 * or the process in no session, the info has no id. */
void              devbg_session_lookup_async  (DevbgSession        *session,
                                               pid_t                pid,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
DevbgSessionInfo *devbg_session_lookup_finish (DevbgSession        *session,
                                               GAsyncResult        *result);

/* Whether a session looked up before is locked now (FALSE if unknown). */
gboolean devbg_session_is_locked (DevbgSession *session,
                                  const char   *id);

/* Signals:
 *   "lock-changed"    (const char *id, gboolean locked)
 *   "session-removed" (const char *id)   the session ended (logind's SessionRemoved)
 */

G_END_DECLS
