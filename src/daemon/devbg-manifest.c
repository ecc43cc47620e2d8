/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
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

GHashTable *
devbg_manifests_load (const char *const *dirs, GPtrArray *problems)
{
  GHashTable *apps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) devbg_manifest_unref);

  for (const char *const *dir = dirs; dir != NULL && *dir != NULL; dir++)
    {
      g_autoptr(GPtrArray) files = devbg_xml_list_dir (*dir, problems);

      for (guint i = 0; i < files->len; i++)
        {
          const char *path = g_ptr_array_index (files, i);
          g_autofree char *data = NULL;
          gsize len = 0;
          g_autoptr(GError) error = NULL;
          DevbgManifest *m;

          if (!g_file_get_contents (path, &data, &len, &error))
            {
              g_ptr_array_add (problems, g_strdup (error->message));
              continue;
            }
          m = devbg_manifest_parse (data, (gssize) len, path, &error);
          if (m == NULL)
            {
              g_ptr_array_add (problems, g_strdup (error->message));
              continue;
            }
          /* Resolved once: /proc/PID/exe is compared with it on calls. */
          if (m->executable != NULL)
            m->executable_real = realpath (m->executable, NULL);
          if (g_hash_table_contains (apps, m->app_id))
            {
              DevbgManifest *first = g_hash_table_lookup (apps, m->app_id);
              g_ptr_array_add (problems,
                               g_strdup_printf ("%s: app ID %s is already declared by %s; ignored",
                                                path, m->app_id, first->origin));
              devbg_manifest_unref (m);
              continue;
            }
          g_hash_table_insert (apps, m->app_id, m);
        }
    }
  return apps;
}
