/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Who is calling: the app ID of a bus peer, derived from the pid and uid
 * that the bus vouches for, never from anything the peer says. It is
 * resolved once, when the connection appears, and stamped with the
 * process's start time and executable, so that a later exec in that
 * process is seen and refused instead of being taken for another app.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "devbg-flatpak.h"

G_BEGIN_DECLS

typedef enum {
  DEVBG_IDENTITY_NONE = 0,
  DEVBG_IDENTITY_FLATPAK,    /* /proc/PID/root/.flatpak-info */
  DEVBG_IDENTITY_CGROUP,     /* systemd app-*.scope / app-*.service unit */
  DEVBG_IDENTITY_EXECUTABLE, /* /proc/PID/exe is a manifest's Executable */
} DevbgIdentitySource;

/* What makes a process the one that made a connection: a pid is reused,
 * and exec keeps the pid, so both the start time and the executable. */
typedef struct {
  guint64 start_time; /* /proc/PID/stat field 22, clock ticks after boot */
  dev_t   exe_dev;    /* stat() of /proc/PID/exe */
  ino_t   exe_ino;
} DevbgProcessStamp;

typedef struct {
  pid_t               pid;
  uid_t               uid;
  char               *app_id; /* NULL when the caller is no known app */
  DevbgIdentitySource source;
  char               *detail; /* why app_id is what it is, or why it is NULL */
  char               *exe;     /* /proc/PID/exe when identified, or NULL */
  gboolean            stamped; /* FALSE when the process was gone already */
  DevbgProcessStamp   stamp;
  DevbgFlatpakOrigin *flatpak; /* a Flatpak app: the deployment its sandbox runs */
  gboolean            sandboxed; /* its root has a /.flatpak-info, trusted or not */
} DevbgIdentity;

void devbg_identity_free (DevbgIdentity *identity);
DevbgIdentity *devbg_identity_copy (const DevbgIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgIdentity, devbg_identity_free)

const char *devbg_identity_source_to_string (DevbgIdentitySource source);

/* Pure: the [Application] name of a .flatpak-info keyfile, or NULL. */
char *devbg_identity_parse_flatpak_info (const char *data,
                                         gsize       length);

/* Pure: the systemd unit an app runs in, from /proc/PID/cgroup text: the
 * innermost app-*.scope or app-*.service on the v2 (or v1 name=systemd)
 * line, or NULL. */
char *devbg_identity_unit_from_cgroup (const char *cgroup_text);

/* Pure: which of @known_app_ids the unit name is for. Understands
 * app[-<launcher>]-<app-id>-<random>.scope and
 * app[-<launcher>]-<app-id>[@<random>].service, with \x2d escapes. */
const char *devbg_identity_app_id_from_unit (const char         *unit,
                                             const char *const  *known_app_ids);

/* Pure: the uid that @uid (outside) is inside a user namespace with
 * /proc/PID/uid_map text @uid_map; G_MAXUINT32 when it is not mapped. */
guint32 devbg_identity_uid_inside (const char *uid_map,
                                   uid_t       uid);

/* Pure: field 22 (starttime) of /proc/PID/stat text, counting fields
 * after the last ')' since the command name may hold spaces and ')'. */
gboolean devbg_identity_start_time_from_stat (const char *stat_text,
                                              guint64    *start_time);

/* Reads the stamp of process @pid; FALSE when it is gone (or unreadable). */
gboolean devbg_process_stamp_read (const char        *proc_root,
                                   pid_t              pid,
                                   DevbgProcessStamp *stamp);

/* Is process @identity->pid still the process that was identified: the
 * same start time and the same executable? Otherwise an error saying
 * what changed. */
gboolean devbg_identity_check (const char          *proc_root,
                               const DevbgIdentity *identity,
                               GError             **error);

/* Has the process identified as @identity (when it connected) exited
 * since: no process of its pid, or one that started at another time? */
gboolean devbg_identity_has_exited (const char          *proc_root,
                                    const DevbgIdentity *identity);

/* Looks up the app of process @pid (owned by @uid, as the bus said) under
 * @proc_root (normally "/proc"). @apps maps app ID -> DevbgManifest. A
 * Flatpak sandbox is an app only when @flatpak finds its deployment in an
 * installation trusted for @uid (NULL: none is), and the app has a
 * manifest, shipped in that deployment or (for the system installation
 * only) in @apps.
 * Never fails: an unknown caller gets an identity with app_id NULL and a
 * detail saying why. The identity is stamped (see DevbgProcessStamp); a
 * process that changed its executable during the lookup is unknown. */
DevbgIdentity *devbg_identity_resolve (const char *proc_root,
                                       pid_t       pid,
                                       uid_t         uid,
                                       GHashTable   *apps,
                                       DevbgFlatpak *flatpak);

G_END_DECLS
