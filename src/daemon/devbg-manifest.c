/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-manifest"

#include "devbg-manifest.h"

#include <stdlib.h>
#include <string.h>

#include "devbg-error.h"
#include "devbg-xml.h"

#define MAX_NAME_LEN 255

typedef enum {
  IN_NONE,
  IN_APPLICATION,
  IN_EXTENSIONS,
  IN_EXTENSION,       /* a windows.backgroundTasks extension */
  IN_BACKGROUND_TASKS,
  IN_TASK,
  IN_SKIPPED,         /* inside an element devbg does not use */
} ParseState;

typedef struct {
  DevbgManifest   *manifest;
  ParseState       state;
  ParseState       skip_return; /* where a skipped subtree's end returns */
  guint            skip_depth;
  DevbgEntryPoint *current; /* the extension being read */
} ParseData;

static void
entry_point_free (DevbgEntryPoint *ep)
{
  g_free (ep->name);
  g_free (ep->executable);
  g_free (ep);
}

gboolean
devbg_app_id_is_valid (const char *app_id)
{
  g_auto(GStrv) elements = NULL;
  guint n = 0;

  if (app_id == NULL || *app_id == '\0' || strlen (app_id) > MAX_NAME_LEN)
    return FALSE;
  elements = g_strsplit (app_id, ".", -1);
  for (char **e = elements; *e != NULL; e++, n++)
    {
      if (**e == '\0' || g_ascii_isdigit (**e))
        return FALSE;
      for (const char *c = *e; *c != '\0'; c++)
        if (!g_ascii_isalnum (*c) && *c != '_' && *c != '-')
          return FALSE;
    }
  return n >= 2;
}

static gboolean
entry_point_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > MAX_NAME_LEN)
    return FALSE;
  for (const char *c = name; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && strchr ("_.:-", *c) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
start_application (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                   const char **values, GError **error)
{
  const char *id = NULL, *exe = NULL;

  if (!devbg_xml_collect (ctx, "Application", names, values, error,
                          "Id", &id, "?Executable", &exe, NULL))
    return FALSE;
  if (!devbg_app_id_is_valid (id))
    return devbg_xml_fail (ctx, error,
                           "Id '%s' is not a valid app ID (reverse-DNS, like org.example.App)",
                           id);
  if (exe != NULL && !g_path_is_absolute (exe))
    return devbg_xml_fail (ctx, error, "Executable '%s' is not an absolute path", exe);
  pd->manifest->app_id = g_strdup (id);
  pd->manifest->executable = g_strdup (exe);
  return TRUE;
}

static gboolean
start_extension (ParseData *pd, GMarkupParseContext *ctx, const char **names,
                 const char **values, GError **error)
{
  const char *category = NULL, *entry_point = NULL, *exe = NULL;

  if (!devbg_xml_collect (ctx, "Extension", names, values, error,
                          "Category", &category, "?EntryPoint", &entry_point,
                          "?Executable", &exe, NULL))
    return FALSE;
  if (strcmp (category, "windows.backgroundTasks") != 0)
    {
      /* Other kinds of extension (file types, protocols...) are the app's
       * business, not devbg's. */
      pd->state = IN_SKIPPED;
      pd->skip_return = IN_EXTENSIONS;
      pd->skip_depth = 1;
      return TRUE;
    }
  if (!entry_point_name_is_valid (entry_point))
    return devbg_xml_fail (ctx, error,
                           "EntryPoint '%s' is missing or invalid (1 to 255 of A-Z a-z 0-9 _ . : -)",
                           entry_point ? entry_point : "");
  if (exe == NULL)
    exe = pd->manifest->executable;
  if (exe == NULL)
    return devbg_xml_fail (ctx, error,
                           "entry point '%s' names no Executable, and the Application none either",
                           entry_point);
  if (!g_path_is_absolute (exe))
    return devbg_xml_fail (ctx, error, "Executable '%s' is not an absolute path", exe);

  pd->current = g_new0 (DevbgEntryPoint, 1);
  pd->current->name = g_strdup (entry_point);
  pd->current->executable = g_strdup (exe);
  pd->state = IN_EXTENSION;
  return TRUE;
}

static gboolean
start_task (ParseData *pd, GMarkupParseContext *ctx, const char **names,
            const char **values, GError **error)
{
  const char *type = NULL;

  if (!devbg_xml_collect (ctx, "Task", names, values, error, "Type", &type, NULL))
    return FALSE;
  if (strcmp (type, "deviceUse") == 0)
    pd->current->triggers |= 1u << DEVBG_TRIGGER_USE;
  else if (strcmp (type, "deviceServicing") == 0)
    pd->current->triggers |= 1u << DEVBG_TRIGGER_SERVICING;
  else
    return devbg_xml_fail (ctx, error,
                           "Task Type '%s' is not supported (deviceUse or deviceServicing)",
                           type);
  return TRUE;
}

static void
on_start (GMarkupParseContext *ctx, const char *element, const char **names,
          const char **values, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;
  const char *local = devbg_xml_local_name (element);

  switch (pd->state)
    {
    case IN_SKIPPED:
      pd->skip_depth++;
      return;
    case IN_NONE:
      if (pd->manifest->app_id != NULL)
        {
          devbg_xml_fail (ctx, error, "a second <%s> after <Application>; one app per manifest",
                          element);
          return;
        }
      if (strcmp (local, "Application") != 0)
        {
          devbg_xml_fail (ctx, error, "the root element is <%s>, expected <Application>", element);
          return;
        }
      if (start_application (pd, ctx, names, values, error))
        pd->state = IN_APPLICATION;
      return;
    case IN_APPLICATION:
      if (strcmp (local, "Extensions") == 0)
        pd->state = IN_EXTENSIONS;
      else
        {
          pd->state = IN_SKIPPED; /* visual elements and the like */
          pd->skip_return = IN_APPLICATION;
          pd->skip_depth = 1;
        }
      return;
    case IN_EXTENSIONS:
      if (strcmp (local, "Extension") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <Extensions>", element);
          return;
        }
      start_extension (pd, ctx, names, values, error);
      return;
    case IN_EXTENSION:
      if (strcmp (local, "BackgroundTasks") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <Extension>", element);
          return;
        }
      pd->state = IN_BACKGROUND_TASKS;
      return;
    case IN_BACKGROUND_TASKS:
      if (strcmp (local, "Task") != 0)
        {
          devbg_xml_fail (ctx, error, "unexpected <%s> in <BackgroundTasks>", element);
          return;
        }
      if (start_task (pd, ctx, names, values, error))
        pd->state = IN_TASK;
      return;
    case IN_TASK:
      devbg_xml_fail (ctx, error, "unexpected <%s> in <Task>", element);
      return;
    }
}

static gboolean
add_entry_point (ParseData *pd, GMarkupParseContext *ctx, GError **error)
{
  DevbgEntryPoint *ep = g_steal_pointer (&pd->current);
  GPtrArray *eps = pd->manifest->entry_points;

  if (ep->triggers == 0)
    {
      devbg_xml_fail (ctx, error, "entry point '%s' declares no task type", ep->name);
      entry_point_free (ep);
      return FALSE;
    }
  for (guint i = 0; i < eps->len; i++)
    {
      DevbgEntryPoint *other = g_ptr_array_index (eps, i);
      if (strcmp (other->name, ep->name) != 0)
        continue;
      if (strcmp (other->executable, ep->executable) != 0)
        {
          devbg_xml_fail (ctx, error, "entry point '%s' is declared twice with different executables",
                          ep->name);
          entry_point_free (ep);
          return FALSE;
        }
      other->triggers |= ep->triggers;
      entry_point_free (ep);
      return TRUE;
    }
  g_ptr_array_add (eps, ep);
  return TRUE;
}

static void
on_end (GMarkupParseContext *ctx, const char *element, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;

  (void) element;
  switch (pd->state)
    {
    case IN_SKIPPED:
      if (--pd->skip_depth == 0)
        pd->state = pd->skip_return;
      return;
    case IN_TASK:
      pd->state = IN_BACKGROUND_TASKS;
      return;
    case IN_BACKGROUND_TASKS:
      pd->state = IN_EXTENSION;
      return;
    case IN_EXTENSION:
      if (add_entry_point (pd, ctx, error))
        pd->state = IN_EXTENSIONS;
      return;
    case IN_EXTENSIONS:
      pd->state = IN_APPLICATION;
      return;
    case IN_APPLICATION:
      pd->state = IN_NONE;
      return;
    case IN_NONE:
      return;
    }
}

static const GMarkupParser parser = {
  .start_element = on_start,
  .end_element = on_end,
  .text = devbg_xml_text_whitespace_only,
};

DevbgManifest *
devbg_manifest_parse (const char *data, gssize length, const char *origin, GError **error)
{
  g_autoptr(DevbgManifest) manifest = g_new0 (DevbgManifest, 1);
  ParseData pd = { .manifest = manifest, .state = IN_NONE };
  g_autoptr(GMarkupParseContext) ctx = NULL;
  g_autoptr(GError) local_error = NULL;

  manifest->ref_count = 1;
  manifest->origin = g_strdup (origin);
  manifest->entry_points = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_point_free);

  ctx = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &pd, NULL);
  if (!g_markup_parse_context_parse (ctx, data, length, &local_error) ||
      !g_markup_parse_context_end_parse (ctx, &local_error))
    {
      if (pd.current != NULL)
        entry_point_free (pd.current);
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST, "%s: %s", origin,
                   local_error->message);
      return NULL;
    }
  if (manifest->app_id == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST,
                   "%s: no <Application> element", origin);
      return NULL;
    }
  return g_steal_pointer (&manifest);
}

DevbgManifest *
devbg_manifest_ref (DevbgManifest *manifest)
{
  g_atomic_int_inc (&manifest->ref_count);
  return manifest;
}

void
devbg_manifest_unref (DevbgManifest *manifest)
{
  if (!g_atomic_int_dec_and_test (&manifest->ref_count))
    return;
  g_free (manifest->origin);
  g_free (manifest->app_id);
  g_free (manifest->executable);
  free (manifest->executable_real);
  g_ptr_array_unref (manifest->entry_points);
  g_free (manifest);
}

const DevbgEntryPoint *
devbg_manifest_find_entry_point (const DevbgManifest *manifest, const char *name)
{
  for (guint i = 0; i < manifest->entry_points->len; i++)
    {
      const DevbgEntryPoint *ep = g_ptr_array_index (manifest->entry_points, i);
      if (strcmp (ep->name, name) == 0)
        return ep;
    }
  return NULL;
}

/* Programs that run other programs named on their command line or in a
 * script's #! line, by base name without version suffix. */
static const char *const interpreter_names[] = {
  "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash", "busybox", "env",
  "python", "pypy", "perl", "ruby", "node", "nodejs", "deno", "bun", "java", "php", "lua",
  "luajit", "tclsh", "wish", "guile", "gjs", "cjs", "Rscript", "awk", "gawk", "mawk", "expect",
  "osh", "elixir", "erl", "escript", "mono", "dotnet", "qemu", NULL,
};

/* "python3.11" -> "python", "guile-3.0" -> "guile", "qemu-x86_64" -> "qemu". */
static char *
strip_version (const char *base)
{
  g_autofree char *name = g_strdup (base);
  gsize len = strlen (name);
  char *dash;

  while (len > 0 && (g_ascii_isdigit (name[len - 1]) || name[len - 1] == '.' ||
                     name[len - 1] == '-' || name[len - 1] == '_'))
    name[--len] = '\0';
  if (g_str_has_prefix (name, "qemu-") && (dash = strchr (name, '-')) != NULL)
    *dash = '\0';
  return g_steal_pointer (&name);
}

static gboolean
name_is_interpreter (const char *path, char **why)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = strip_version (base);

  /* The dynamic loader runs any program given to it: ld.so /usr/bin/app. */
  if (g_str_has_prefix (base, "ld-linux") || g_str_has_prefix (base, "ld.so") ||
      g_str_has_prefix (base, "ld64.so") || g_str_has_prefix (base, "ld-musl"))
    {
      if (why != NULL)
        *why = g_strdup_printf ("%s is the dynamic loader", path);
      return TRUE;
    }
  if (g_strv_contains (interpreter_names, name))
    {
      if (why != NULL)
        *why = g_strdup_printf ("%s is the %s interpreter", path, name);
      return TRUE;
    }
  return FALSE;
}

gboolean
devbg_executable_is_interpreter (const char *path, const char *const *shells, char **why)
{
  if (path == NULL)
    return FALSE;
  if (name_is_interpreter (path, why))
    return TRUE;
  for (const char *const *sh = shells; sh != NULL && *sh != NULL; sh++)
    if (strcmp (*sh, path) == 0)
      {
        if (why != NULL)
          *why = g_strdup_printf ("%s is a login shell (listed in /etc/shells)", path);
        return TRUE;
      }
  return FALSE;
}

/* /etc/shells as canonical paths, so that /bin/sh and /usr/bin/sh and
 * /usr/bin/dash (its target) all count. */
static GStrv
read_shells (const char *shells_file)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new ();

  if (shells_file == NULL || !g_file_get_contents (shells_file, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *line = g_strstrip (*l);
      char *real;

      if (*line != '/')
        continue;
      g_ptr_array_add (out, g_strdup (line));
      if ((real = realpath (line, NULL)) != NULL)
        {
          g_ptr_array_add (out, g_strdup (real));
          free (real);
        }
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

/* Parses @path; NULL (with a problem appended) when it cannot be read or
 * parsed, or names an interpreter as its Executable. */
static DevbgManifest *
load_one (const char *path, const char *const *shells, GPtrArray *problems)
{
  g_autofree char *data = NULL;
  g_autofree char *why = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  m = devbg_manifest_parse (data, (gssize) len, path, &error);
  if (m == NULL)
    {
      g_ptr_array_add (problems, g_strdup (error->message));
      return NULL;
    }
  if (m->executable == NULL)
    return g_steal_pointer (&m);
  /* Resolved once: /proc/PID/exe is compared with it. */
  m->executable_real = realpath (m->executable, NULL);
  if (devbg_executable_is_interpreter (m->executable, shells, &why) ||
      (m->executable_real != NULL &&
       devbg_executable_is_interpreter (m->executable_real, shells, &why)))
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("%s: app %s names Executable %s, but %s, which runs "
                                        "every script written for it and cannot identify one "
                                        "app; identify it by its systemd unit or Flatpak ID "
                                        "and leave Executable out", path, m->app_id,
                                        m->executable, why));
      return NULL;
    }
  return g_steal_pointer (&m);
}

static const char *
executable_key (const DevbgManifest *m)
{
  return m->executable_real != NULL ? m->executable_real : m->executable;
}

/* Marks in @refused (origin set) every manifest of @all that shares
 * @what (app ID or Executable) with another, with one problem each naming
 * the others. */
static void
refuse_conflicts (GPtrArray *all, gboolean by_executable, GHashTable *refused,
                  GPtrArray *problems)
{
  for (guint i = 0; i < all->len; i++)
    {
      DevbgManifest *m = g_ptr_array_index (all, i);
      const char *key = by_executable ? executable_key (m) : m->app_id;
      g_autoptr(GString) others = g_string_new (NULL);

      if (key == NULL)
        continue;
      for (guint j = 0; j < all->len; j++)
        {
          DevbgManifest *o = g_ptr_array_index (all, j);
          const char *okey = by_executable ? executable_key (o) : o->app_id;

          if (j != i && okey != NULL && strcmp (key, okey) == 0)
            g_string_append_printf (others, "%s%s (app %s)", others->len > 0 ? ", " : "",
                                    o->origin, o->app_id);
        }
      if (others->len == 0)
        continue;
      g_hash_table_add (refused, m->origin);
      if (by_executable)
        g_ptr_array_add (problems,
                         g_strdup_printf ("%s: app %s claims Executable %s, which %s also "
                                          "claims; an executable identifies one app, so none "
                                          "of them is loaded", m->origin, m->app_id, key,
                                          others->str));
      else
        g_ptr_array_add (problems,
                         g_strdup_printf ("%s: app ID %s is also declared by %s; none of "
                                          "them is loaded", m->origin, m->app_id, others->str));
    }
}

GHashTable *
devbg_manifests_load_full (const char *const *dirs, const char *shells_file, GPtrArray *problems)
{
  GHashTable *apps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) devbg_manifest_unref);
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_manifest_unref);
  g_autoptr(GHashTable) refused = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto(GStrv) shells = read_shells (shells_file);

  for (const char *const *dir = dirs; dir != NULL && *dir != NULL; dir++)
    {
      g_autoptr(GPtrArray) files = devbg_xml_list_dir (*dir, problems);

      for (guint i = 0; i < files->len; i++)
        {
          DevbgManifest *m = load_one (g_ptr_array_index (files, i),
                                       (const char *const *) shells, problems);
          if (m != NULL)
            g_ptr_array_add (all, m);
        }
    }

  refuse_conflicts (all, FALSE, refused, problems);
  refuse_conflicts (all, TRUE, refused, problems);
  for (guint i = 0; i < all->len; i++)
    {
      DevbgManifest *m = g_ptr_array_index (all, i);
      if (!g_hash_table_contains (refused, m->origin))
        g_hash_table_insert (apps, m->app_id, devbg_manifest_ref (m));
    }
  return apps;
}

GHashTable *
devbg_manifests_load (const char *const *dirs, GPtrArray *problems)
{
  return devbg_manifests_load_full (dirs, "/etc/shells", problems);
}
