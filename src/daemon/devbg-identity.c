/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-identity"

#include "devbg-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-manifest.h"

/* A real .flatpak-info is a few KiB; anything much larger is not one. */
#define MAX_FLATPAK_INFO (256 * 1024)
#define CAP_SYS_ADMIN_BIT 21

void
devbg_identity_free (DevbgIdentity *identity)
{
  if (identity == NULL)
    return;
  g_free (identity->app_id);
  g_free (identity->detail);
  g_free (identity->exe);
  devbg_flatpak_origin_free (identity->flatpak);
  g_free (identity);
}

DevbgIdentity *
devbg_identity_copy (const DevbgIdentity *identity)
{
  DevbgIdentity *copy = g_new (DevbgIdentity, 1);

  *copy = *identity;
  copy->app_id = g_strdup (identity->app_id);
  copy->detail = g_strdup (identity->detail);
  copy->exe = g_strdup (identity->exe);
  copy->flatpak = identity->flatpak ? devbg_flatpak_origin_copy (identity->flatpak) : NULL;
  return copy;
}

const char *
devbg_identity_source_to_string (DevbgIdentitySource source)
{
  switch (source)
    {
    case DEVBG_IDENTITY_FLATPAK: return "flatpak";
    case DEVBG_IDENTITY_CGROUP: return "cgroup";
    case DEVBG_IDENTITY_EXECUTABLE: return "executable";
    case DEVBG_IDENTITY_NONE: break;
    }
  return "none";
}

char *
devbg_identity_parse_flatpak_info (const char *data, gsize length)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *name = NULL;

  if (!g_key_file_load_from_data (kf, data, length, G_KEY_FILE_NONE, NULL))
    return NULL;
  name = g_key_file_get_string (kf, "Application", "name", NULL);
  if (!devbg_app_id_is_valid (name))
    return NULL;
  return g_steal_pointer (&name);
}

static gboolean
is_app_unit (const char *name)
{
  return g_str_has_prefix (name, "app-") &&
         (g_str_has_suffix (name, ".scope") || g_str_has_suffix (name, ".service"));
}

char *
devbg_identity_unit_from_cgroup (const char *cgroup_text)
{
  g_auto(GStrv) lines = g_strsplit (cgroup_text, "\n", -1);
  const char *path = NULL;

  /* Prefer the unified (v2) line; on a v1 host systemd keeps its units in
   * the name=systemd hierarchy. */
  for (char **l = lines; *l != NULL && path == NULL; l++)
    if (g_str_has_prefix (*l, "0::"))
      path = *l + 3;
  for (char **l = lines; *l != NULL && path == NULL; l++)
    {
      const char *p = strstr (*l, ":name=systemd:");
      if (p != NULL)
        path = p + strlen (":name=systemd:");
    }
  if (path == NULL)
    return NULL;

  {
    g_auto(GStrv) parts = g_strsplit (path, "/", -1);
    for (gint i = (gint) g_strv_length (parts) - 1; i >= 0; i--)
      if (is_app_unit (parts[i]))
        return g_strdup (parts[i]);
  }
  return NULL;
}

/* systemd unit-name escaping: \xNN -> byte. */
static char *
unescape_unit (const char *s)
{
  GString *out = g_string_new (NULL);

  for (const char *c = s; *c != '\0'; c++)
    {
      if (c[0] == '\\' && c[1] == 'x' && g_ascii_isxdigit (c[2]) && g_ascii_isxdigit (c[3]))
        {
          char byte = (char) (g_ascii_xdigit_value (c[2]) * 16 + g_ascii_xdigit_value (c[3]));

          if (byte == '\0') /* no unit name holds a NUL; refuse rather than truncate */
            {
              g_string_free (out, TRUE);
              return NULL;
            }
          g_string_append_c (out, byte);
          c += 3;
        }
      else
        g_string_append_c (out, *c);
    }
  return g_string_free (out, FALSE);
}

/* Does @id stand in @body as a whole dash-separated field run? The app ID
 * comes after "app-" and an optional launcher, and before "-<random>" or
 * "@<random>" or the end. */
static gboolean
unit_body_names (const char *body, const char *id)
{
  gsize idlen = strlen (id);

  for (const char *p = body; (p = strstr (p, id)) != NULL; p++)
    {
      gboolean starts = p == body || p[-1] == '-';
      char after = p[idlen];
      if (starts && (after == '\0' || after == '-' || after == '@'))
        return TRUE;
    }
  return FALSE;
}

const char *
devbg_identity_app_id_from_unit (const char *unit, const char *const *known_app_ids)
{
  g_autofree char *name = NULL;
  const char *best = NULL;
  char *dot;

  if (unit == NULL || !is_app_unit (unit))
    return NULL;
  name = unescape_unit (unit + strlen ("app-"));
  if (name == NULL || (dot = strrchr (name, '.')) == NULL)
    return NULL;
  *dot = '\0'; /* drop .scope / .service */

  /* The longest known ID that the body names: org.example.App must not be
   * taken for org.example when both are installed. */
  for (const char *const *id = known_app_ids; id != NULL && *id != NULL; id++)
    if (unit_body_names (name, *id) && (best == NULL || strlen (*id) > strlen (best)))
      best = *id;
  return best;
}

static char *
read_proc_file (const char *proc_root, pid_t pid, const char *what, gsize *length)
{
  g_autofree char *path = g_strdup_printf ("%s/%d/%s", proc_root, (int) pid, what);
  char *data = NULL;

  if (!g_file_get_contents (path, &data, length, NULL))
    return NULL;
  return data;
}

/* The real uid of @pid, so that a pid reused by another user since the bus
 * recorded it is not taken for the caller. */
static gboolean
process_uid_matches (const char *proc_root, pid_t pid, uid_t uid)
{
  g_autofree char *status = read_proc_file (proc_root, pid, "status", NULL);
  const char *line;
  guint64 real;

  if (status == NULL || (line = strstr (status, "\nUid:")) == NULL)
    return FALSE;
  line += strlen ("\nUid:");
  while (*line == ' ' || *line == '\t')
    line++;
  real = g_ascii_strtoull (line, NULL, 10);
  return real == (guint64) uid;
}

static const char *
app_by_executable (GHashTable *apps, const char *exe)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, apps);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      DevbgManifest *m = value;

      if (devbg_manifest_owns_executable (m, exe))
        return m->app_id;
    }
  return NULL;
}

gboolean
devbg_identity_start_time_from_stat (const char *stat_text, guint64 *start_time)
{
  const char *p = stat_text != NULL ? strrchr (stat_text, ')') : NULL;
  char *end = NULL;

  if (p == NULL)
    return FALSE;
  p++;
  /* Fields 3 to 21 come first, each a space and a word. */
  for (int field = 3; field < 22; field++)
    {
      if (*p != ' ')
        return FALSE;
      p++;
      while (*p != ' ' && *p != '\0')
        p++;
    }
  if (*p != ' ' || !g_ascii_isdigit (p[1]))
    return FALSE;
  *start_time = g_ascii_strtoull (p + 1, &end, 10);
  return *end == ' ' || *end == '\n' || *end == '\0';
}

gboolean
devbg_process_stamp_read (const char *proc_root, pid_t pid, DevbgProcessStamp *stamp)
{
  g_autofree char *stat_text = read_proc_file (proc_root, pid, "stat", NULL);
  g_autofree char *exe = g_strdup_printf ("%s/%d/exe", proc_root, (int) pid);
  struct stat st;

  if (pid <= 0 || !devbg_identity_start_time_from_stat (stat_text, &stamp->start_time))
    return FALSE;
  /* stat() follows the magic link to the very file that is mapped, even
   * when it has been deleted or replaced on disk since. */
  if (stat (exe, &st) != 0)
    return FALSE;
  stamp->exe_dev = st.st_dev;
  stamp->exe_ino = st.st_ino;
  return TRUE;
}

static gboolean
stamps_equal (const DevbgProcessStamp *a, const DevbgProcessStamp *b)
{
  return a->start_time == b->start_time && a->exe_dev == b->exe_dev && a->exe_ino == b->exe_ino;
}

gboolean
devbg_identity_has_exited (const char *proc_root, const DevbgIdentity *identity)
{
  DevbgProcessStamp now;

  return identity->stamped && (!devbg_process_stamp_read (proc_root, identity->pid, &now) ||
                               now.start_time != identity->stamp.start_time);
}

gboolean
devbg_identity_check (const char *proc_root, const DevbgIdentity *identity, GError **error)
{
  DevbgProcessStamp now;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;

  if (!identity->stamped)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_IDENTITY_CHANGED,
                   "the process that made this connection could not be identified when it "
                   "connected: %s", identity->detail);
      return FALSE;
    }
  if (!devbg_process_stamp_read (proc_root, identity->pid, &now) ||
      now.start_time != identity->stamp.start_time)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_IDENTITY_CHANGED,
                   "process %d, which made this connection, has exited; a connection is "
                   "only served while the process that made it lives", (int) identity->pid);
      return FALSE;
    }
  if (stamps_equal (&now, &identity->stamp))
    return TRUE;
  exe_link = g_strdup_printf ("%s/%d/exe", proc_root, (int) identity->pid);
  exe = g_file_read_link (exe_link, NULL);
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_IDENTITY_CHANGED,
               "process %d made this connection as %s and has executed %s since; a "
               "connection keeps the identity of the program that made it", (int) identity->pid,
               identity->exe != NULL ? identity->exe : "?", exe != NULL ? exe : "another program");
  return FALSE;
}

guint32
devbg_identity_uid_inside (const char *uid_map, uid_t uid)
{
  g_auto(GStrv) lines = g_strsplit (uid_map != NULL ? uid_map : "", "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      guint64 inside, outside, count;
      char *end;

      inside = g_ascii_strtoull (*l, &end, 10);
      if (end == *l)
        continue;
      outside = g_ascii_strtoull (end, &end, 10);
      count = g_ascii_strtoull (end, NULL, 10);
      if ((guint64) uid >= outside && (guint64) uid - outside < count)
        {
          guint64 mapped = inside + ((guint64) uid - outside);
          return mapped <= G_MAXUINT32 ? (guint32) mapped : G_MAXUINT32;
        }
    }
  return G_MAXUINT32;
}

static gboolean
same_file (const char *a, const char *b)
{
  struct stat sa, sb;

  return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

static gboolean
has_cap_sys_admin (const char *status)
{
  const char *line = status != NULL ? strstr (status, "\nCapEff:") : NULL;

  if (line == NULL)
    return TRUE; /* unreadable: assume the worst */
  return (g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16) >> CAP_SYS_ADMIN_BIT) & 1;
}

/* What can be checked from outside that the process is in a sandbox as
 * Flatpak (bubblewrap) makes them: the user keeps its uid inside, and
 * holds no capability over its own namespaces. A process that made its
 * own namespace with `unshare -r` is root in it and could mount any file
 * at /.flatpak-info. */
static char *
sandbox_implausible (const char *proc_root, pid_t pid, uid_t uid)
{
  g_autofree char *uid_map = read_proc_file (proc_root, pid, "uid_map", NULL);
  g_autofree char *status = NULL;
  g_autofree char *own_ns = g_strdup_printf ("%s/self/ns/user", proc_root);
  g_autofree char *its_ns = g_strdup_printf ("%s/%d/ns/user", proc_root, (int) pid);
  guint32 inside;

  if (uid_map == NULL)
    return g_strdup ("its user namespace cannot be read");
  inside = devbg_identity_uid_inside (uid_map, uid);
  if (inside != (guint32) uid)
    return g_strdup_printf ("it is uid %d inside its own user namespace (uid %u outside); "
                            "Flatpak keeps the user's uid, a self-made namespace "
                            "(unshare -r) does not",
                            inside == G_MAXUINT32 ? -1 : (int) inside, (unsigned) uid);
  if (same_file (own_ns, its_ns))
    return NULL;
  status = read_proc_file (proc_root, pid, "status", NULL);
  if (has_cap_sys_admin (status))
    return g_strdup ("it holds CAP_SYS_ADMIN in its own user namespace, so it could have "
                     "mounted the file itself; a Flatpak app holds no capability");
  return NULL;
}

typedef enum {
  FLATPAK_INFO_NONE,    /* the process is not in a Flatpak sandbox */
  FLATPAK_INFO_FOUND,
  FLATPAK_INFO_REFUSED, /* there is one, but it cannot be trusted */
} FlatpakInfoResult;

static char *
read_fd_fully (int fd, gsize size, gsize *length)
{
  g_autofree char *data = g_malloc (size + 1);
  gsize got = 0;

  while (got < size)
    {
      ssize_t n = read (fd, data + got, size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  data[got] = '\0';
  *length = got;
  return g_steal_pointer (&data);
}

/* The checks of xdg-desktop-portal (opened relative to the process's own
 * root, a regular file) and what Flatpak guarantees besides: bubblewrap
 * puts it there as a read-only bind mount (--ro-bind-data) that the app,
 * with no capabilities and no nested namespaces allowed, cannot replace.
 * The file is opened O_PATH first so that nothing but a regular file is
 * ever opened for reading (no FIFO to block on, no device). */
static FlatpakInfoResult
open_flatpak_info (const char *proc_root, pid_t pid, uid_t uid, char **data, gsize *length,
                   char **why)
{
  g_autofree char *root = g_strdup_printf ("%s/%d/root", proc_root, (int) pid);
  g_autofree char *reopen = NULL;
  struct stat st = { 0 };
  struct statvfs vfs;
  int root_fd, path_fd, fd, saved;

  root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return FLATPAK_INFO_NONE;
  path_fd = openat (root_fd, ".flatpak-info", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  saved = errno;
  close (root_fd);
  if (path_fd < 0)
    {
      if (saved == ENOENT)
        return FLATPAK_INFO_NONE;
      *why = g_strdup_printf ("its /.flatpak-info cannot be opened: %s", g_strerror (saved));
      return FLATPAK_INFO_REFUSED;
    }
  if (fstat (path_fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_FLATPAK_INFO)
    {
      close (path_fd);
      *why = g_strdup (S_ISLNK (st.st_mode)
                       ? "its /.flatpak-info is a symbolic link, which is never followed"
                       : "its /.flatpak-info is not a regular file of at most 256 KiB");
      return FLATPAK_INFO_REFUSED;
    }
  reopen = g_strdup_printf ("/proc/self/fd/%d", path_fd);
  fd = open (reopen, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  close (path_fd);
  if (fd < 0)
    {
      *why = g_strdup_printf ("its /.flatpak-info cannot be read: %s", g_strerror (errno));
      return FLATPAK_INFO_REFUSED;
    }
  if (fstatvfs (fd, &vfs) != 0 || (vfs.f_flag & ST_RDONLY) == 0)
    {
      close (fd);
      *why = g_strdup ("its /.flatpak-info is on a writable mount; Flatpak mounts it read-only");
      return FLATPAK_INFO_REFUSED;
    }
  *data = read_fd_fully (fd, (gsize) st.st_size, length);
  close (fd);
  if ((*why = sandbox_implausible (proc_root, pid, uid)) != NULL)
    {
      g_clear_pointer (data, g_free);
      return FLATPAK_INFO_REFUSED;
    }
  return FLATPAK_INFO_FOUND;
}

/* A genuine sandbox (open_flatpak_info's checks) is the app it names only
 * when an installation trusted for the caller's uid deployed that very app
 * and commit: a user may run flatpak with any FLATPAK_SYSTEM_DIR of its
 * own making, and a sandbox outlives the uninstall of its app. */
static void
resolve_flatpak (DevbgIdentity *id, const char *flatpak_info, gsize len, GHashTable *apps,
                 DevbgFlatpak *flatpak)
{
  g_autofree char *why = NULL;

  if (flatpak == NULL)
    {
      id->detail = g_strdup_printf ("process %d is refused as a Flatpak app: devbgd trusts no "
                                    "Flatpak installation", (int) id->pid);
      return;
    }
  id->flatpak = devbg_flatpak_identify (flatpak, flatpak_info, len, id->uid, &why);
  if (id->flatpak == NULL)
    {
      id->detail = g_strdup_printf ("process %d is refused as a Flatpak app: %s",
                                    (int) id->pid, why);
      return;
    }
  id->source = DEVBG_IDENTITY_FLATPAK;
  id->app_id = g_strdup (id->flatpak->app_id);
  if (devbg_flatpak_lookup (flatpak, id->flatpak) == NULL &&
      (id->flatpak->user || !g_hash_table_contains (apps, id->app_id)))
    {
      id->detail = g_strdup_printf ("Flatpak app %s has no devbg manifest (none in %s/app/%s%s)",
                                    id->app_id, id->flatpak->installation, id->app_id,
                                    id->flatpak->user ? "; the manifest directories serve no "
                                    "app of a user's own installation"
                                    : ", none in the manifest directories");
      g_clear_pointer (&id->app_id, g_free);
    }
  else
    id->detail = g_strdup_printf ("Flatpak app %s commit %.12s of %s", id->app_id,
                                  id->flatpak->commit, id->flatpak->installation);
}

static gboolean
resolve_cgroup (DevbgIdentity *id, const char *proc_root, GHashTable *apps)
{
  g_autofree char *cgroup = read_proc_file (proc_root, id->pid, "cgroup", NULL);
  g_autofree char *unit = NULL;
  g_autofree const char **known = NULL;
  const char *app_id;

  if (cgroup == NULL)
    return FALSE;
  unit = devbg_identity_unit_from_cgroup (cgroup);
  known = (const char **) g_hash_table_get_keys_as_array (apps, NULL);
  app_id = devbg_identity_app_id_from_unit (unit, known);
  if (app_id == NULL)
    return FALSE;
  id->source = DEVBG_IDENTITY_CGROUP;
  id->app_id = g_strdup (app_id);
  id->detail = g_strdup_printf ("unit %s", unit);
  return TRUE;
}

static void
resolve_app (DevbgIdentity *id, const char *proc_root, GHashTable *apps, DevbgFlatpak *flatpak)
{
  g_autofree char *flatpak_info = NULL;
  g_autofree char *why = NULL;
  const char *app_id;
  gsize len = 0;

  /* A Flatpak app cannot write its own .flatpak-info; once there is one,
   * it is the only answer (no falling through to weaker evidence), and
   * one that cannot be trusted makes the caller unknown. */
  switch (open_flatpak_info (proc_root, id->pid, id->uid, &flatpak_info, &len, &why))
    {
    case FLATPAK_INFO_FOUND:
      id->sandboxed = TRUE;
      resolve_flatpak (id, flatpak_info, len, apps, flatpak);
      return;
    case FLATPAK_INFO_REFUSED:
      id->sandboxed = TRUE;
      id->detail = g_strdup_printf ("process %d is refused as a Flatpak app: %s",
                                    (int) id->pid, why);
      return;
    case FLATPAK_INFO_NONE:
      break;
    }

  if (resolve_cgroup (id, proc_root, apps))
    return;

  if (id->exe != NULL && !g_str_has_suffix (id->exe, " (deleted)") &&
      (app_id = app_by_executable (apps, id->exe)) != NULL)
    {
      id->source = DEVBG_IDENTITY_EXECUTABLE;
      id->app_id = g_strdup (app_id);
      id->detail = g_strdup_printf ("executable %s", id->exe);
      return;
    }

  id->detail = g_strdup_printf ("process %d (%s) is in no app unit and no manifest names "
                                "its executable", (int) id->pid, id->exe != NULL ? id->exe : "?");
}

DevbgIdentity *
devbg_identity_resolve (const char *proc_root, pid_t pid, uid_t uid, GHashTable *apps,
                        DevbgFlatpak *flatpak)
{
  g_autoptr(DevbgIdentity) id = g_new0 (DevbgIdentity, 1);
  g_autofree char *exe_link = g_strdup_printf ("%s/%d/exe", proc_root, (int) pid);
  DevbgProcessStamp after;

  id->pid = pid;
  id->uid = uid;

  if (pid <= 0 || !devbg_process_stamp_read (proc_root, pid, &id->stamp) ||
      !process_uid_matches (proc_root, pid, uid))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *exe = g_file_read_link (exe_link, &error);

      /* Without CAP_SYS_PTRACE another user's /proc/PID/exe is EACCES: say so. */
      id->detail = g_strdup_printf ("process %d of uid %u is gone, not the caller, or cannot be "
                                    "inspected (%s)", (int) pid, (unsigned) uid,
                                    error != NULL ? error->message : "its uid differs");
      return g_steal_pointer (&id);
    }
  id->stamped = TRUE;
  id->exe = g_file_read_link (exe_link, NULL);

  resolve_app (id, proc_root, apps, flatpak);

  /* An exec between the first stamp and here would have mixed two
   * programs' evidence: such a process is nobody. */
  if (!devbg_process_stamp_read (proc_root, pid, &after) || !stamps_equal (&after, &id->stamp))
    {
      g_clear_pointer (&id->app_id, g_free);
      g_clear_pointer (&id->detail, g_free);
      g_clear_pointer (&id->flatpak, devbg_flatpak_origin_free);
      id->source = DEVBG_IDENTITY_NONE;
      id->detail = g_strdup_printf ("process %d exited or executed another program while "
                                    "devbgd identified it", (int) pid);
    }
  return g_steal_pointer (&id);
}
