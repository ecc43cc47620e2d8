/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-flatpak.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devbg-manifest.h"
#include "devbg-utf8.h"

/* A manifest is a few KiB; a larger file is not one. */
#define MAX_MANIFEST_SIZE (1024 * 1024)
/* flatpak writes <installation>/.changed on every install, update and
 * removal; one reload a moment later covers the rest of the transaction. */
#define RELOAD_DELAY_MS 200

/* A user's own installation is the user's to fill and to touch, and it is
 * read on devbgd's main loop: what one load reads of it, and how often it
 * is reloaded, are bounded (a hostile-user review blocked devbgd 2.9 s a
 * load with 60 apps of 1 MiB manifests, reloaded every 200 ms). The system
 * installation is root's, and read whole. */
/* The apps read, the first by app ID (the same ones at every reload). */
#define USER_MAX_APPS 256
/* Entries of its app/ directory looked at, to find them. */
#define USER_MAX_DIR_ENTRIES (USER_MAX_APPS * 16)
/* Manifest bytes read in all in one load: 16 manifests of the 1 MiB most. */
#define USER_MAX_MANIFEST_BYTES (16 * 1024 * 1024)
/* A change during the quiet time after a reload is picked up at its end. */
#define USER_RELOAD_INTERVAL_MS 5000
/* One load's skipped manifests are one log line, naming the first few. */
#define USER_PROBLEMS_NAMED 3
#define USER_PROBLEM_EXCERPT 256

/* ---- origins and .flatpak-info ---- */

void
devbg_flatpak_origin_free (DevbgFlatpakOrigin *origin)
{
  if (origin == NULL)
    return;
  g_free (origin->installation);
  g_free (origin->app_id);
  g_free (origin->arch);
  g_free (origin->branch);
  g_free (origin->commit);
  g_free (origin->task_home_root);
  g_free (origin);
}

DevbgFlatpakOrigin *
devbg_flatpak_origin_copy (const DevbgFlatpakOrigin *origin)
{
  DevbgFlatpakOrigin *copy = g_new0 (DevbgFlatpakOrigin, 1);

  *copy = *origin;
  copy->installation = g_strdup (origin->installation);
  copy->app_id = g_strdup (origin->app_id);
  copy->arch = g_strdup (origin->arch);
  copy->branch = g_strdup (origin->branch);
  copy->commit = g_strdup (origin->commit);
  copy->task_home_root = g_strdup (origin->task_home_root);
  return copy;
}

void
devbg_flatpak_info_clear (DevbgFlatpakInfo *info)
{
  g_clear_pointer (&info->name, g_free);
  g_clear_pointer (&info->app_path, g_free);
  g_clear_pointer (&info->commit, g_free);
  g_clear_pointer (&info->arch, g_free);
  g_clear_pointer (&info->branch, g_free);
}

gboolean
devbg_flatpak_commit_is_valid (const char *commit)
{
  if (commit == NULL || strlen (commit) != 64)
    return FALSE;
  for (const char *c = commit; *c != '\0'; c++)
    if (!g_ascii_isdigit (*c) && !(*c >= 'a' && *c <= 'f'))
      return FALSE;
  return TRUE;
}

gboolean
devbg_flatpak_ref_part_is_valid (const char *part)
{
  if (part == NULL || *part == '\0' || *part == '.' || strlen (part) > 255)
    return FALSE;
  for (const char *c = part; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '_' && *c != '-' && *c != '.')
      return FALSE;
  return TRUE;
}

gboolean
devbg_flatpak_info_parse (const char *data, gsize length, DevbgFlatpakInfo *info, char **why)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();

  if (!g_key_file_load_from_data (kf, data, length, G_KEY_FILE_NONE, NULL))
    {
      *why = g_strdup ("its /.flatpak-info is not a key file");
      return FALSE;
    }
  info->name = g_key_file_get_string (kf, "Application", "name", NULL);
  info->app_path = g_key_file_get_string (kf, "Instance", "app-path", NULL);
  info->commit = g_key_file_get_string (kf, "Instance", "app-commit", NULL);
  info->arch = g_key_file_get_string (kf, "Instance", "arch", NULL);
  info->branch = g_key_file_get_string (kf, "Instance", "branch", NULL);
  if (!devbg_app_id_is_valid (info->name))
    *why = g_strdup ("its /.flatpak-info names no valid app ID");
  else if (info->app_path == NULL || info->app_path[0] != '/')
    *why = g_strdup_printf ("its /.flatpak-info gives no app-path for %s", info->name);
  else if (!devbg_flatpak_commit_is_valid (info->commit))
    *why = g_strdup_printf ("its /.flatpak-info gives no valid app-commit for %s", info->name);
  else if (!devbg_flatpak_ref_part_is_valid (info->arch) ||
           !devbg_flatpak_ref_part_is_valid (info->branch))
    *why = g_strdup_printf ("its /.flatpak-info gives no valid arch and branch for %s",
                            info->name);
  else
    return TRUE;
  devbg_flatpak_info_clear (info);
  return FALSE;
}

char *
devbg_flatpak_expand_user_dir (const char *template_, const char *home, uid_t uid)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (const char *c = template_; *c != '\0'; c++)
    {
      if (*c != '%')
        {
          g_string_append_c (out, *c);
          continue;
        }
      c++;
      if (*c == 'h' && home != NULL && home[0] == '/')
        g_string_append (out, home);
      else if (*c == 'u')
        g_string_append_printf (out, "%u", (unsigned) uid);
      else if (*c == '%')
        g_string_append_c (out, '%');
      else
        return NULL;
    }
  if (out->str[0] != '/')
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ---- one installation ---- */

typedef struct {
  DevbgFlatpak *flatpak;
  char         *path;
  gboolean      user;
  uid_t         owner;
  GHashTable   *deployed;  /* app ID -> DevbgFlatpakOrigin, every app deployed */
  GHashTable   *manifests; /* app ID -> DevbgManifest, those that ship one */
  GFileMonitor *monitor;
  guint         reload_source;
  gint64        last_reload; /* monotonic, µs: when the last reload ended */
} Installation;

struct _DevbgFlatpak {
  char                *system_dir;
  char                *user_dir_template;
  char                *task_home_root;
  DevbgFlatpakChanged  changed;
  gpointer             user_data;
  Installation        *system;
  GHashTable          *users; /* uid -> Installation */
};

static void
installation_free (Installation *inst)
{
  if (inst->monitor != NULL)
    g_signal_handlers_disconnect_by_data (inst->monitor, inst);
  g_clear_object (&inst->monitor);
  g_clear_handle_id (&inst->reload_source, g_source_remove);
  g_clear_pointer (&inst->deployed, g_hash_table_unref);
  g_clear_pointer (&inst->manifests, g_hash_table_unref);
  g_free (inst->path);
  g_free (inst);
}

/* Whose is it: a deployment of the system installation is root's (the
 * system helper deploys it), one of a user's installation is that user's.
 * Anything else was put there by someone the installation does not trust. */
static gboolean
owned_right (const struct stat *st, const Installation *inst, const char *what, char **why)
{
  uid_t want = inst->user ? inst->owner : 0;

  if (st->st_uid == want)
    return TRUE;
  *why = g_strdup_printf ("%s is owned by uid %u, not by uid %u as its installation %s is",
                          what, (unsigned) st->st_uid, (unsigned) want, inst->path);
  return FALSE;
}

/* The target of symlink @dir/@name, which Flatpak makes: "current" is
 * "<arch>/<branch>", "active" is the commit. */
static char *
read_ref_link (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_read_link (path, NULL);
}

/* The current deployment of @app_id in @inst, or NULL. */
static DevbgFlatpakOrigin *
read_deployment (Installation *inst, const char *app_id)
{
  g_autofree char *app_dir = g_build_filename (inst->path, "app", app_id, NULL);
  g_autofree char *current = read_ref_link (app_dir, "current");
  g_autofree char *branch_dir = NULL;
  g_autofree char *commit = NULL;
  g_auto(GStrv) parts = NULL;
  DevbgFlatpakOrigin *origin;

  if (current == NULL)
    return NULL;
  parts = g_strsplit (current, "/", -1);
  if (g_strv_length (parts) != 2 || !devbg_flatpak_ref_part_is_valid (parts[0]) ||
      !devbg_flatpak_ref_part_is_valid (parts[1]))
    return NULL;
  branch_dir = g_build_filename (app_dir, parts[0], parts[1], NULL);
  commit = read_ref_link (branch_dir, "active");
  if (!devbg_flatpak_commit_is_valid (commit))
    return NULL;
  origin = g_new0 (DevbgFlatpakOrigin, 1);
  origin->installation = g_strdup (inst->path);
  origin->user = inst->user;
  origin->owner = inst->owner;
  origin->app_id = g_strdup (app_id);
  origin->arch = g_strdup (parts[0]);
  origin->branch = g_strdup (parts[1]);
  origin->commit = g_steal_pointer (&commit);
  origin->task_home_root = g_strdup (inst->flatpak->task_home_root);
  return origin;
}

static char *
deploy_dir (const DevbgFlatpakOrigin *o)
{
  return g_build_filename (o->installation, "app", o->app_id, o->arch, o->branch, o->commit,
                           NULL);
}

/* Reads the file a deployment ships at files/share/devbg/<app-id>.xml,
 * never through a final symlink, as its owner's regular file. NULL with
 * *@why NULL when the app ships none. With @budget, a file larger than
 * what is left of it is not read (NULL, *@over_budget set), and what is
 * read is taken from it. */
static char *
read_shipped_manifest (Installation *inst, const DevbgFlatpakOrigin *o, gsize *budget,
                       gboolean *over_budget, char **path_out, gsize *length, char **why)
{
  g_autofree char *dir = deploy_dir (o);
  g_autofree char *name = g_strconcat (o->app_id, ".xml", NULL);
  g_autofree char *path = g_build_filename (dir, "files", "share", "devbg", name, NULL);
  g_autofree char *data = NULL;
  struct stat st;
  gssize n = 0;
  int path_fd, fd;

  if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode))
    return NULL;
  if (!owned_right (&st, inst, dir, why))
    return NULL;
  /* O_PATH first: nothing but a regular file of the right owner is ever
   * opened for reading (a user's installation is the user's to arrange). */
  path_fd = open (path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (path_fd < 0)
    {
      if (errno != ENOENT)
        *why = g_strdup_printf ("%s: %s", path, g_strerror (errno));
      return NULL;
    }
  if (fstat (path_fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_MANIFEST_SIZE)
    *why = g_strdup_printf ("%s is not a regular file of at most 1 MiB", path);
  else if (budget != NULL && (gsize) st.st_size > *budget)
    *over_budget = TRUE;
  else if (owned_right (&st, inst, path, why))
    {
      g_autofree char *reopen = g_strdup_printf ("/proc/self/fd/%d", path_fd);

      gsize size = (gsize) st.st_size;

      fd = open (reopen, O_RDONLY | O_NOCTTY | O_CLOEXEC);
      data = g_malloc (size + 1);
      n = fd >= 0 ? read (fd, data, size) : -1;
      if (n < 0 || (gsize) n != size)
        {
          *why = g_strdup_printf ("%s: cannot be read whole", path);
          g_clear_pointer (&data, g_free);
        }
      else
        data[size] = '\0';
      if (budget != NULL)
        *budget -= size;
      if (fd >= 0)
        close (fd);
    }
  close (path_fd);
  if (data == NULL)
    return NULL;
  *length = (gsize) n;
  *path_out = g_steal_pointer (&path);
  return g_steal_pointer (&data);
}

static void
origin_destroy (gpointer data)
{
  devbg_flatpak_origin_free (data);
}

/* The manifest of one deployment, checked: it names the app that ships it,
 * and it gives no identity by executable (its paths are the sandbox's,
 * /app/..., and mean nothing on the host). */
static DevbgManifest *
load_shipped (Installation *inst, const DevbgFlatpakOrigin *o, gsize *budget,
              gboolean *over_budget, GPtrArray *problems)
{
  g_autofree char *why = NULL;
  g_autofree char *path = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = NULL;
  gsize len = 0;

  data = read_shipped_manifest (inst, o, budget, over_budget, &path, &len, &why);
  if (data == NULL)
    {
      if (why != NULL)
        g_ptr_array_add (problems, g_steal_pointer (&why));
      return NULL;
    }
  m = devbg_manifest_parse (data, (gssize) len, path, &error);
  if (m == NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  if (strcmp (m->app_id, o->app_id) != 0)
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("%s: the manifest claims app ID %s, but Flatpak app %s "
                                        "ships it; an app declares only itself", path,
                                        m->app_id, o->app_id));
      return NULL;
    }
  g_clear_pointer (&m->executable_real, free);
  g_clear_pointer (&m->helpers_real, g_strfreev);
  m->flatpak = devbg_flatpak_origin_copy (o);
  m->flatpak_free = origin_destroy;
  return g_steal_pointer (&m);
}

/* Logs the manifests that are new since @before (or all, at start). */
static void
log_loaded (Installation *inst, GHashTable *before)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, inst->manifests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      DevbgManifest *m = value;
      DevbgManifest *old = before != NULL ? g_hash_table_lookup (before, m->app_id) : NULL;

      if (old == NULL || strcmp (old->flatpak->commit, m->flatpak->commit) != 0)
        {
          g_autofree char *what = devbg_manifest_describe (m);

          g_info ("Flatpak app %s commit %.12s: manifest %s loaded: %s", m->app_id,
                  m->flatpak->commit, m->origin, what);
        }
    }
}

/* What one load of a user's installation left out, and why. */
typedef struct {
  gboolean   entries_cut;  /* app/ had more than USER_MAX_DIR_ENTRIES entries */
  guint      apps_past;    /* app IDs past the first USER_MAX_APPS */
  GPtrArray *not_read;     /* app IDs whose manifest was past USER_MAX_MANIFEST_BYTES */
} UserLimits;

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* One line for what a load of a user's installation left out, so that a
 * user's thousands of apps are not thousands of lines. */
static void
log_user_limits (Installation *inst, const UserLimits *limits)
{
  g_autoptr(GString) s = g_string_new (NULL);

  if (limits->entries_cut)
    g_string_append_printf (s, "; entries of its app directory past the first %d not looked at",
                            USER_MAX_DIR_ENTRIES);
  if (limits->apps_past > 0)
    g_string_append_printf (s, "; %u app IDs past its first %d apps (in order of ID) ignored",
                            limits->apps_past, USER_MAX_APPS);
  if (limits->not_read->len > 0)
    {
      g_string_append_printf (s, "; %u manifests past %d MiB in all not read (",
                              limits->not_read->len, USER_MAX_MANIFEST_BYTES / (1024 * 1024));
      for (guint i = 0; i < limits->not_read->len && i < USER_PROBLEMS_NAMED; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "",
                                (const char *) g_ptr_array_index (limits->not_read, i));
      if (limits->not_read->len > USER_PROBLEMS_NAMED)
        g_string_append_printf (s, " and %u more", limits->not_read->len - USER_PROBLEMS_NAMED);
      g_string_append (s, ")");
    }
  if (s->len > 0)
    g_warning ("Flatpak installation %s of uid %u is past devbgd's limits for a user's "
               "installation%s", inst->path, (unsigned) inst->owner, s->str);
}

/* A user's installation: its skipped manifests as one line, the first few
 * named (each cut: what a user's manifest makes a parser say is theirs). */
static void
log_user_problems (Installation *inst, GPtrArray *problems)
{
  g_autoptr(GString) s = g_string_new (NULL);

  if (problems->len == 0)
    return;
  for (guint i = 0; i < problems->len && i < USER_PROBLEMS_NAMED; i++)
    {
      g_autofree char *excerpt = devbg_utf8_excerpt (g_ptr_array_index (problems, i),
                                                     USER_PROBLEM_EXCERPT);
      g_string_append_printf (s, "%s%s", i ? "; " : "", excerpt);
    }
  if (problems->len > USER_PROBLEMS_NAMED)
    g_string_append_printf (s, "; and %u more", problems->len - USER_PROBLEMS_NAMED);
  g_warning ("Flatpak installation %s of uid %u: %u manifests skipped: %s", inst->path,
             (unsigned) inst->owner, problems->len, s->str);
}

static void
installation_load (Installation *inst, GHashTable **deployed_out, GHashTable **manifests_out)
{
  g_autofree char *apps_dir = g_build_filename (inst->path, "app", NULL);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) not_read = g_ptr_array_new ();
  GHashTable *deployed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, origin_destroy);
  GHashTable *manifests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                 (GDestroyNotify) devbg_manifest_unref);
  UserLimits limits = { .not_read = not_read };
  gsize budget = USER_MAX_MANIFEST_BYTES;
  guint entries = 0;
  DIR *dir = opendir (apps_dir);
  struct dirent *e;

  while (dir != NULL && (e = readdir (dir)) != NULL)
    {
      if (inst->user && ++entries > USER_MAX_DIR_ENTRIES)
        {
          limits.entries_cut = TRUE;
          break;
        }
      if (devbg_app_id_is_valid (e->d_name))
        g_ptr_array_add (names, g_strdup (e->d_name));
    }
  if (dir != NULL)
    closedir (dir);
  /* In order, so that a user's installation past the limit keeps the
   * same apps from one reload to the next, whatever readdir()'s order. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      gboolean over_budget = FALSE;
      DevbgFlatpakOrigin *o;
      DevbgManifest *m;

      if (inst->user && g_hash_table_size (deployed) >= USER_MAX_APPS)
        {
          limits.apps_past = names->len - i;
          break;
        }
      if ((o = read_deployment (inst, name)) == NULL)
        continue;
      g_hash_table_insert (deployed, g_strdup (name), o);
      if ((m = load_shipped (inst, o, inst->user ? &budget : NULL, &over_budget,
                             problems)) != NULL)
        g_hash_table_insert (manifests, g_strdup (name), m);
      else if (over_budget)
        g_ptr_array_add (not_read, (gpointer) name);
    }
  if (inst->user)
    {
      log_user_limits (inst, &limits);
      log_user_problems (inst, problems);
    }
  else
    for (guint i = 0; i < problems->len; i++)
      g_warning ("skipped Flatpak manifest: %s", (const char *) g_ptr_array_index (problems, i));
  *deployed_out = deployed;
  *manifests_out = manifests;
}

/* Tells what an install, update or removal did to each app deployed before. */
static void
report_changes (Installation *inst, GHashTable *before)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const DevbgFlatpakOrigin *old = value;
      const DevbgFlatpakOrigin *now = g_hash_table_lookup (inst->deployed, key);

      if (now != NULL && strcmp (now->commit, old->commit) == 0)
        continue;
      g_info ("Flatpak app %s in %s: %s", old->app_id, inst->path,
              now == NULL ? "uninstalled" : "updated");
      if (inst->flatpak->changed != NULL)
        inst->flatpak->changed (old, now, inst->flatpak->user_data);
    }
}

static void
installation_reload (Installation *inst)
{
  g_autoptr(GHashTable) before = g_steal_pointer (&inst->deployed);
  g_autoptr(GHashTable) old_manifests = g_steal_pointer (&inst->manifests);

  installation_load (inst, &inst->deployed, &inst->manifests);
  g_info ("Flatpak installation %s: %u apps, %u with a devbg manifest", inst->path,
          g_hash_table_size (inst->deployed), g_hash_table_size (inst->manifests));
  log_loaded (inst, old_manifests);
  if (before != NULL)
    report_changes (inst, before);
  inst->last_reload = g_get_monotonic_time ();
}

static gboolean
on_reload (gpointer user_data)
{
  Installation *inst = user_data;

  inst->reload_source = 0;
  installation_reload (inst);
  return G_SOURCE_REMOVE;
}

static void
on_installation_changed (GFileMonitor *monitor, GFile *file, GFile *other,
                         GFileMonitorEvent event, gpointer user_data)
{
  Installation *inst = user_data;
  gint64 delay_ms = RELOAD_DELAY_MS;

  (void) monitor; (void) file; (void) other; (void) event;
  if (inst->reload_source != 0)
    return; /* the reload to come sees this change too */
  /* A user touching their installation without end gets at most one
   * reload per USER_RELOAD_INTERVAL_MS; the last change is never lost:
   * its reload runs when the quiet time ends. */
  if (inst->user)
    delay_ms = MAX (delay_ms, (inst->last_reload - g_get_monotonic_time ()) / 1000 +
                              USER_RELOAD_INTERVAL_MS);
  inst->reload_source = g_timeout_add ((guint) delay_ms, on_reload, inst);
}

static Installation *
installation_new (DevbgFlatpak *flatpak, const char *path, gboolean user, uid_t owner)
{
  Installation *inst = g_new0 (Installation, 1);
  g_autoptr(GFile) dir = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;

  inst->flatpak = flatpak;
  inst->path = g_strdup (path);
  inst->user = user;
  inst->owner = owner;
  /* Watched before the first load, so that nothing installed in between
   * is missed. */
  inst->monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (inst->monitor == NULL)
    g_warning ("cannot watch Flatpak installation %s (a restart is needed to see changes): %s",
               path, error->message);
  else
    g_signal_connect (inst->monitor, "changed", G_CALLBACK (on_installation_changed), inst);
  installation_reload (inst);
  return inst;
}

/* ---- the installations ---- */

DevbgFlatpak *
devbg_flatpak_new (const char *system_dir, const char *user_dir_template,
                   const char *task_home_root, DevbgFlatpakChanged changed, gpointer user_data)
{
  DevbgFlatpak *flatpak = g_new0 (DevbgFlatpak, 1);

  flatpak->system_dir = g_strdup (system_dir);
  flatpak->user_dir_template = g_strdup (user_dir_template);
  flatpak->task_home_root = g_strdup (task_home_root);
  flatpak->changed = changed;
  flatpak->user_data = user_data;
  flatpak->users = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) installation_free);
  if (system_dir != NULL)
    flatpak->system = installation_new (flatpak, system_dir, FALSE, 0);
  return flatpak;
}

void
devbg_flatpak_free (DevbgFlatpak *flatpak)
{
  if (flatpak == NULL)
    return;
  g_clear_pointer (&flatpak->system, installation_free);
  g_clear_pointer (&flatpak->users, g_hash_table_unref);
  g_free (flatpak->system_dir);
  g_free (flatpak->user_dir_template);
  g_free (flatpak->task_home_root);
  g_free (flatpak);
}

static char *
user_dir_of (DevbgFlatpak *flatpak, uid_t uid)
{
  struct passwd pwbuf, *pw = NULL;
  char buf[4096];

  if (flatpak->user_dir_template == NULL)
    return NULL;
  if (getpwuid_r (uid, &pwbuf, buf, sizeof buf, &pw) != 0)
    pw = NULL;
  return devbg_flatpak_expand_user_dir (flatpak->user_dir_template,
                                        pw != NULL ? pw->pw_dir : NULL, uid);
}

/* @uid's own installation, loaded and watched from its first use. */
static Installation *
user_installation (DevbgFlatpak *flatpak, uid_t uid)
{
  Installation *inst = g_hash_table_lookup (flatpak->users, GUINT_TO_POINTER (uid));
  g_autofree char *path = NULL;

  if (inst != NULL)
    return inst;
  path = user_dir_of (flatpak, uid);
  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_DIR))
    return NULL;
  inst = installation_new (flatpak, path, TRUE, uid);
  g_hash_table_insert (flatpak->users, GUINT_TO_POINTER (uid), inst);
  return inst;
}

/* Is @app_path the files of a deployment of @inst, "<root>/app/<id>/"? */
static gboolean
path_in (const char *app_path, const char *root)
{
  return root != NULL && g_str_has_prefix (app_path, root) &&
         g_str_has_prefix (app_path + strlen (root), "/app/");
}

DevbgFlatpakOrigin *
devbg_flatpak_identify (DevbgFlatpak *flatpak, const char *info_data, gsize length, uid_t uid,
                        char **why)
{
  g_auto(DevbgFlatpakInfo) info = { 0 };
  g_autofree char *user_dir = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *files = NULL;
  g_autofree char *deploy_marker = NULL;
  g_autoptr(DevbgFlatpakOrigin) origin = g_new0 (DevbgFlatpakOrigin, 1);
  Installation *inst = NULL;
  struct stat st;

  if (!devbg_flatpak_info_parse (info_data, length, &info, why))
    return NULL;
  if (flatpak->system != NULL && path_in (info.app_path, flatpak->system->path))
    inst = flatpak->system;
  else if ((user_dir = user_dir_of (flatpak, uid)) != NULL && path_in (info.app_path, user_dir))
    inst = user_installation (flatpak, uid);
  if (inst == NULL)
    {
      *why = g_strdup_printf ("Flatpak app %s runs from %s, which is in no installation trusted "
                              "for uid %u (the system installation %s, or the user's own %s)",
                              info.name, info.app_path, (unsigned) uid,
                              flatpak->system_dir ? flatpak->system_dir : "(none)",
                              user_dir ? user_dir : "(none)");
      return NULL;
    }
  origin->installation = g_strdup (inst->path);
  origin->user = inst->user;
  origin->owner = inst->owner;
  origin->app_id = g_strdup (info.name);
  origin->arch = g_strdup (info.arch);
  origin->branch = g_strdup (info.branch);
  origin->commit = g_strdup (info.commit);
  origin->task_home_root = g_strdup (flatpak->task_home_root);
  expected = deploy_dir (origin);
  files = g_build_filename (expected, "files", NULL);
  deploy_marker = g_build_filename (expected, "deploy", NULL);
  /* The path Flatpak mounted at /app is the deployment of the very app and
   * commit the file names, and that deployment is there now. */
  if (strcmp (files, info.app_path) != 0 || lstat (expected, &st) != 0 || !S_ISDIR (st.st_mode) ||
      !g_file_test (deploy_marker, G_FILE_TEST_IS_REGULAR))
    {
      *why = g_strdup_printf ("Flatpak app %s commit %.12s is not installed in %s (its sandbox "
                              "runs %s)", info.name, info.commit, inst->path, info.app_path);
      return NULL;
    }
  if (!owned_right (&st, inst, expected, why))
    return NULL;
  return g_steal_pointer (&origin);
}

gpointer
devbg_flatpak_lookup (DevbgFlatpak *flatpak, const DevbgFlatpakOrigin *origin)
{
  Installation *inst;

  if (origin == NULL)
    return NULL;
  inst = origin->user ? g_hash_table_lookup (flatpak->users, GUINT_TO_POINTER (origin->owner))
                      : flatpak->system;
  if (inst == NULL || inst->manifests == NULL || strcmp (inst->path, origin->installation) != 0)
    return NULL;
  return g_hash_table_lookup (inst->manifests, origin->app_id);
}

DevbgFlatpakState
devbg_flatpak_check_now (DevbgFlatpak *flatpak, const DevbgFlatpakOrigin *origin)
{
  g_autoptr(DevbgFlatpakOrigin) now = NULL;
  g_autofree char *dir = NULL;
  DevbgFlatpakState state;
  Installation *inst;
  struct stat st;

  if (flatpak == NULL || origin == NULL)
    return DEVBG_FLATPAK_DEPLOYED;
  inst = origin->user ? g_hash_table_lookup (flatpak->users, GUINT_TO_POINTER (origin->owner))
                      : flatpak->system;
  if (inst == NULL || strcmp (inst->path, origin->installation) != 0)
    return DEVBG_FLATPAK_DEPLOYED; /* nothing known to compare with */
  now = read_deployment (inst, origin->app_id);
  dir = deploy_dir (origin);
  if (now != NULL && strcmp (now->commit, origin->commit) != 0)
    state = DEVBG_FLATPAK_UPDATED;
  else if (now == NULL || lstat (dir, &st) != 0)
    state = DEVBG_FLATPAK_UNINSTALLED; /* no ref, or its files already gone */
  else
    return DEVBG_FLATPAK_DEPLOYED;
  /* The change is reported now, not when the debounced reload runs: what
   * is decided next (how a task ended) must see it. */
  g_clear_handle_id (&inst->reload_source, g_source_remove);
  installation_reload (inst);
  return state;
}

/* ---- tasks in the sandbox ---- */

char **
devbg_flatpak_task_argv (const DevbgFlatpakOrigin *o, const char *executable,
                         const char *entry_point)
{
  GPtrArray *argv = g_ptr_array_new ();

  g_ptr_array_add (argv, g_strdup (DEVBG_FLATPAK_BINARY));
  g_ptr_array_add (argv, g_strdup ("run"));
  g_ptr_array_add (argv, g_strdup (o->user ? "--user" : "--system"));
  /* No accessibility bus: a task has no session, and the bus launcher
   * would outlive it. */
  g_ptr_array_add (argv, g_strdup ("--no-a11y-bus"));
  g_ptr_array_add (argv, g_strdup_printf ("--arch=%s", o->arch));
  g_ptr_array_add (argv, g_strdup_printf ("--branch=%s", o->branch));
  /* The commit whose manifest declared the task, not whatever is
   * deployed by the time the sandbox starts. */
  g_ptr_array_add (argv, g_strdup_printf ("--commit=%s", o->commit));
  g_ptr_array_add (argv, g_strdup_printf ("--command=%s", executable));
  g_ptr_array_add (argv, g_strdup (o->app_id));
  g_ptr_array_add (argv, g_strdup (entry_point));
  g_ptr_array_add (argv, NULL);
  return (char **) g_ptr_array_free (argv, FALSE);
}

char **
devbg_flatpak_task_environ (const DevbgFlatpakOrigin *o, const char *home)
{
  char **env = g_new0 (char *, 3);

  env[0] = g_strdup_printf ("HOME=%s", home);
  /* The installation the manifest came from, as flatpak itself names it. */
  env[1] = g_strdup_printf ("%s=%s", o->user ? "FLATPAK_USER_DIR" : "FLATPAK_SYSTEM_DIR",
                            o->installation);
  return env;
}
