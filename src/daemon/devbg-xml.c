/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-xml"

#include "devbg-xml.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

const char *
devbg_xml_local_name (const char *element)
{
  const char *colon = strrchr (element, ':');
  return colon != NULL ? colon + 1 : element;
}

gboolean
devbg_xml_fail (GMarkupParseContext *ctx, GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  (void) ctx;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT, msg);
  return FALSE;
}

typedef struct {
  const char  *name;
  const char **out;
  gboolean     optional;
} AttrSpec;

#define MAX_ATTRS 8

gboolean
devbg_xml_collect (GMarkupParseContext *ctx, const char *element, const char **names,
                   const char **values, GError **error, const char *first_name, ...)
{
  AttrSpec specs[MAX_ATTRS];
  guint n = 0;
  va_list args;

  va_start (args, first_name);
  for (const char *name = first_name; name != NULL; name = va_arg (args, const char *))
    {
      g_assert (n < MAX_ATTRS);
      specs[n].optional = name[0] == '?';
      specs[n].name = specs[n].optional ? name + 1 : name;
      specs[n].out = va_arg (args, const char **);
      *specs[n].out = NULL;
      n++;
    }
  va_end (args);

  for (guint a = 0; names[a] != NULL; a++)
    {
      const char *local = devbg_xml_local_name (names[a]);
      gboolean known = FALSE;

      if (strcmp (names[a], "xmlns") == 0 || g_str_has_prefix (names[a], "xmlns:"))
        continue;
      for (guint i = 0; i < n; i++)
        {
          if (strcmp (local, specs[i].name) != 0)
            continue;
          if (*specs[i].out != NULL)
            return devbg_xml_fail (ctx, error, "<%s> has attribute %s twice", element,
                                   specs[i].name);
          *specs[i].out = values[a];
          known = TRUE;
          break;
        }
      if (!known)
        return devbg_xml_fail (ctx, error, "<%s> has unknown attribute %s", element, names[a]);
    }

  for (guint i = 0; i < n; i++)
    if (!specs[i].optional && *specs[i].out == NULL)
      return devbg_xml_fail (ctx, error, "<%s> lacks the attribute %s", element, specs[i].name);
  return TRUE;
}

void
devbg_xml_text_whitespace_only (GMarkupParseContext *ctx, const char *text, gsize len,
                                gpointer user_data, GError **error)
{
  (void) user_data;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isspace (text[i]))
      {
        devbg_xml_fail (ctx, error, "unexpected text in <%s>",
                        g_markup_parse_context_get_element (ctx));
        return;
      }
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
devbg_xml_list_dir (const char *dir, GPtrArray *problems)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;

  d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_ptr_array_add (problems, g_strdup_printf ("%s: %s", dir, error->message));
      return files;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".xml") && name[0] != '.')
      g_ptr_array_add (files, g_build_filename (dir, name, NULL));
  g_ptr_array_sort (files, compare_paths);
  return files;
}
