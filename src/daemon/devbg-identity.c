/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-identity.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-manifest.h"

void
devbg_identity_free (DevbgIdentity *identity)
{
  if (identity == NULL)
    return;
  g_free (identity->app_id);
  g_free (identity->detail);
  g_free (identity);
}

DevbgIdentity *
devbg_identity_copy (const DevbgIdentity *identity)
{
  DevbgIdentity *copy = g_new (DevbgIdentity, 1);

  *copy = *identity;
  copy->app_id = g_strdup (identity->app_id);
  copy->detail = g_strdup (identity->detail);
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

      if (m->executable_real != NULL && strcmp (m->executable_real, exe) == 0)
        return m->app_id;
    }
  return NULL;
}

DevbgIdentity *
devbg_identity_resolve (const char *proc_root, pid_t pid, uid_t uid, GHashTable *apps)
{
  g_autoptr(DevbgIdentity) id = g_new0 (DevbgIdentity, 1);
  g_autofree char *flatpak_path = NULL;
  g_autofree char *flatpak_info = NULL;
  g_autofree char *cgroup = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;
  gsize len = 0;

  id->pid = pid;
  id->uid = uid;

  if (pid <= 0 || !process_uid_matches (proc_root, pid, uid))
    {
      id->detail = g_strdup_printf ("process %d of uid %u is gone or not the caller",
                                    (int) pid, (unsigned) uid);
      return g_steal_pointer (&id);
    }

  /* A Flatpak app cannot write its own .flatpak-info; once there is one,
   * it is the only answer (no falling through to weaker evidence). */
  flatpak_path = g_strdup_printf ("%s/%d/root/.flatpak-info", proc_root, (int) pid);
  if (g_file_get_contents (flatpak_path, &flatpak_info, &len, NULL))
    {
      id->source = DEVBG_IDENTITY_FLATPAK;
      id->app_id = devbg_identity_parse_flatpak_info (flatpak_info, len);
      if (id->app_id == NULL)
        id->detail = g_strdup_printf ("%s names no valid app ID", flatpak_path);
      else if (!g_hash_table_contains (apps, id->app_id))
        {
          id->detail = g_strdup_printf ("Flatpak app %s has no devbg manifest", id->app_id);
          g_clear_pointer (&id->app_id, g_free);
        }
      else
        id->detail = g_strdup_printf ("Flatpak app %s", id->app_id);
      return g_steal_pointer (&id);
    }

  cgroup = read_proc_file (proc_root, pid, "cgroup", NULL);
  if (cgroup != NULL)
    {
      g_autofree char *unit = devbg_identity_unit_from_cgroup (cgroup);
      g_autofree const char **known = (const char **) g_hash_table_get_keys_as_array (apps, NULL);
      const char *app_id = devbg_identity_app_id_from_unit (unit, known);

      if (app_id != NULL)
        {
          id->source = DEVBG_IDENTITY_CGROUP;
          id->app_id = g_strdup (app_id);
          id->detail = g_strdup_printf ("unit %s", unit);
          return g_steal_pointer (&id);
        }
    }

  exe_link = g_strdup_printf ("%s/%d/exe", proc_root, (int) pid);
  exe = g_file_read_link (exe_link, NULL);
  if (exe != NULL && !g_str_has_suffix (exe, " (deleted)"))
    {
      const char *app_id = app_by_executable (apps, exe);
      if (app_id != NULL)
        {
          id->source = DEVBG_IDENTITY_EXECUTABLE;
          id->app_id = g_strdup (app_id);
          id->detail = g_strdup_printf ("executable %s", exe);
          return g_steal_pointer (&id);
        }
    }

  id->detail = g_strdup_printf ("process %d (%s) is in no app unit and no manifest names "
                                "its executable", (int) pid, exe != NULL ? exe : "?");
  return g_steal_pointer (&id);
}
