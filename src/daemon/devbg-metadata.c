/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-metadata"

#include "devbg-metadata.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-manifest.h"
#include "devbg-xml.h"

#define MAX_IDS 64
#define MAX_TEXT 255

/* The element path the parser is in, by local names: only these carry
 * meaning; anything else under SoftwareInfo (companion apps, vendor
 * extensions) is skipped. */
typedef struct {
  DevbgMetadata *md;
  GPtrArray     *path;      /* of const char * (local names, owned by GMarkup) */
  guint          skip_depth;
  GString       *text;
  GPtrArray     *hwids;
  GPtrArray     *apps;
  gboolean       seen_model_id;
} ParseData;

static gboolean
path_is (ParseData *pd, const char *const *expected)
{
  guint n = 0;
  while (expected[n] != NULL)
    n++;
  if (pd->path->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp (g_ptr_array_index (pd->path, i), expected[i]) != 0)
      return FALSE;
  return TRUE;
}

#define PATH(...) ((const char *const[]) { __VA_ARGS__, NULL })

char *
devbg_model_id_normalize (const char *model_id)
{
  g_autofree char *s = NULL;
  gsize len;

  if (model_id == NULL)
    return NULL;
  s = g_ascii_strdown (model_id, -1);
  g_strstrip (s);
  len = strlen (s);
  if (len == 38 && s[0] == '{' && s[37] == '}')
    {
      memmove (s, s + 1, 36);
      s[36] = '\0';
    }
  if (!g_uuid_string_is_valid (s))
    return NULL;
  return g_steal_pointer (&s);
}

static gboolean
hardware_id_is_valid (const char *id)
{
  if (*id == '\0' || strlen (id) > MAX_TEXT)
    return FALSE;
  for (const char *c = id; *c != '\0'; c++)
    if (!g_ascii_isgraph (*c))
      return FALSE;
  return strchr (id, '\\') != NULL; /* BUS\ID, as Windows writes them */
}

static void
on_start (GMarkupParseContext *ctx, const char *element, const char **names,
          const char **values, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;
  const char *local = devbg_xml_local_name (element);

  if (pd->skip_depth > 0)
    {
      pd->skip_depth++;
      return;
    }
  g_ptr_array_add (pd->path, (gpointer) local);
  g_string_truncate (pd->text, 0);

  if (path_is (pd, PATH ("DeviceMetadata")))
    devbg_xml_collect (ctx, element, names, values, error, NULL);
  else if (pd->path->len == 1)
    devbg_xml_fail (ctx, error, "the root element is <%s>, expected <DeviceMetadata>", element);
  else if (path_is (pd, PATH ("DeviceMetadata", "ModelId")) ||
           path_is (pd, PATH ("DeviceMetadata", "HardwareIds")) ||
           path_is (pd, PATH ("DeviceMetadata", "HardwareIds", "HardwareId")) ||
           path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo")) ||
           path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications")) ||
           path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications", "Package")) ||
           path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications", "Package",
                              "Identity", "Name")) ||
           path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications", "Package",
                              "Identity", "Publisher")))
    {
      /* Structure only: attributes other than xmlns are not expected. */
      devbg_xml_collect (ctx, element, names, values, error, NULL);
    }
  else if (path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications",
                              "AnyApplication")))
    {
      if (devbg_xml_collect (ctx, element, names, values, error, NULL))
        pd->md->any_application = TRUE;
    }
  else if (path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications",
                              "Package", "Identity")))
    {
      /* Both forms: <Identity Name="..." Publisher="..."/> and child elements. */
      const char *name = NULL, *publisher = NULL;
      if (devbg_xml_collect (ctx, element, names, values, error, "?Name", &name,
                             "?Publisher", &publisher, NULL) &&
          name != NULL)
        {
          if (!devbg_app_id_is_valid (name))
            devbg_xml_fail (ctx, error, "privileged app Name '%s' is not a valid app ID", name);
          else
            g_ptr_array_add (pd->apps, g_strdup (name));
        }
    }
  else if (pd->path->len >= 3 &&
           strcmp (g_ptr_array_index (pd->path, 1), "SoftwareInfo") == 0)
    {
      /* DeviceCompanionApplications and the like: not devbg's. */
      g_ptr_array_set_size (pd->path, pd->path->len - 1);
      pd->skip_depth = 1;
    }
  else
    devbg_xml_fail (ctx, error, "unexpected element <%s>", element);
}

static void
on_text (GMarkupParseContext *ctx, const char *text, gsize len, gpointer user_data,
         GError **error)
{
  ParseData *pd = user_data;

  if (pd->skip_depth > 0)
    return;
  if (path_is (pd, PATH ("DeviceMetadata", "ModelId")) ||
      path_is (pd, PATH ("DeviceMetadata", "HardwareIds", "HardwareId")) ||
      (pd->path->len == 6 && strcmp (g_ptr_array_index (pd->path, 4), "Identity") == 0))
    {
      if (pd->text->len + len > MAX_TEXT * 4)
        {
          devbg_xml_fail (ctx, error, "text in <%s> is too long",
                          g_markup_parse_context_get_element (ctx));
          return;
        }
      g_string_append_len (pd->text, text, (gssize) len);
      return;
    }
  devbg_xml_text_whitespace_only (ctx, text, len, user_data, error);
}

static void
on_end (GMarkupParseContext *ctx, const char *element, gpointer user_data, GError **error)
{
  ParseData *pd = user_data;
  g_autofree char *text = NULL;

  (void) element;
  if (pd->skip_depth > 0)
    {
      pd->skip_depth--;
      return;
    }
  text = g_strstrip (g_strdup (pd->text->str));
  g_string_truncate (pd->text, 0);

  if (path_is (pd, PATH ("DeviceMetadata", "ModelId")))
    {
      g_autofree char *norm = devbg_model_id_normalize (text);
      if (norm == NULL)
        devbg_xml_fail (ctx, error, "ModelId '%s' is not a GUID", text);
      else if (pd->seen_model_id)
        devbg_xml_fail (ctx, error, "ModelId is given twice");
      else
        {
          pd->md->model_id = g_steal_pointer (&norm);
          pd->seen_model_id = TRUE;
        }
    }
  else if (path_is (pd, PATH ("DeviceMetadata", "HardwareIds", "HardwareId")))
    {
      if (!hardware_id_is_valid (text))
        devbg_xml_fail (ctx, error, "HardwareId '%s' is not a hardware ID (like USB\\VID_1209&PID_0001)",
                        text);
      else if (pd->hwids->len >= MAX_IDS)
        devbg_xml_fail (ctx, error, "more than %d hardware IDs", MAX_IDS);
      else
        g_ptr_array_add (pd->hwids, g_ascii_strup (text, -1));
    }
  else if (path_is (pd, PATH ("DeviceMetadata", "SoftwareInfo", "PrivilegedApplications",
                              "Package", "Identity", "Name")))
    {
      if (!devbg_app_id_is_valid (text))
        devbg_xml_fail (ctx, error, "privileged app Name '%s' is not a valid app ID", text);
      else if (pd->apps->len >= MAX_IDS)
        devbg_xml_fail (ctx, error, "more than %d privileged apps", MAX_IDS);
      else
        g_ptr_array_add (pd->apps, g_steal_pointer (&text));
    }
  g_ptr_array_set_size (pd->path, pd->path->len - 1);
}

static const GMarkupParser parser = {
  .start_element = on_start,
  .end_element = on_end,
  .text = on_text,
};

DevbgMetadata *
devbg_metadata_parse (const char *data, gssize length, const char *origin, GError **error)
{
  g_autoptr(DevbgMetadata) md = g_new0 (DevbgMetadata, 1);
  g_autoptr(GPtrArray) path = g_ptr_array_new ();
  g_autoptr(GPtrArray) hwids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) text = g_string_new (NULL);
  ParseData pd = { .md = md, .path = path, .text = text, .hwids = hwids, .apps = apps };
  g_autoptr(GMarkupParseContext) ctx = NULL;
  g_autoptr(GError) local_error = NULL;

  md->ref_count = 1;
  md->origin = g_strdup (origin);
  ctx = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &pd, NULL);
  if (!g_markup_parse_context_parse (ctx, data, length, &local_error) ||
      !g_markup_parse_context_end_parse (ctx, &local_error))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_METADATA, "%s: %s", origin,
                   local_error->message);
      return NULL;
    }
  if (md->model_id == NULL && hwids->len == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_METADATA,
                   "%s: names no ModelId and no HardwareId, so matches no device", origin);
      return NULL;
    }
  if (!md->any_application && apps->len == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_METADATA,
                   "%s: PrivilegedApplications names no app and not AnyApplication", origin);
      return NULL;
    }
  g_ptr_array_add (hwids, NULL);
  g_ptr_array_add (apps, NULL);
  md->hardware_ids = (GStrv) g_ptr_array_steal (hwids, NULL);
  md->privileged_apps = (GStrv) g_ptr_array_steal (apps, NULL);
  return g_steal_pointer (&md);
}

DevbgMetadata *
devbg_metadata_ref (DevbgMetadata *md)
{
  g_atomic_int_inc (&md->ref_count);
  return md;
}

void
devbg_metadata_unref (DevbgMetadata *md)
{
  if (!g_atomic_int_dec_and_test (&md->ref_count))
    return;
  g_free (md->origin);
  g_free (md->model_id);
  g_strfreev (md->hardware_ids);
  g_strfreev (md->privileged_apps);
  g_free (md);
}

DevbgMetadata *
devbg_metadata_match (GPtrArray *all, const char *model_id, const char *const *hardware_ids)
{
  g_autofree char *norm = devbg_model_id_normalize (model_id);

  if (norm != NULL)
    for (guint i = 0; i < all->len; i++)
      {
        DevbgMetadata *md = g_ptr_array_index (all, i);
        if (md->model_id != NULL && strcmp (md->model_id, norm) == 0)
          return md;
      }

  for (const char *const *hw = hardware_ids; hw != NULL && *hw != NULL; hw++)
    for (guint i = 0; i < all->len; i++)
      {
        DevbgMetadata *md = g_ptr_array_index (all, i);
        for (char **mh = md->hardware_ids; *mh != NULL; mh++)
          if (g_ascii_strcasecmp (*mh, *hw) == 0)
            return md;
      }
  return NULL;
}

gboolean
devbg_metadata_is_privileged (const DevbgMetadata *md, const char *app_id)
{
  if (md == NULL || app_id == NULL)
    return FALSE;
  if (md->any_application)
    return TRUE;
  return g_strv_contains ((const char *const *) md->privileged_apps, app_id);
}

GPtrArray *
devbg_metadata_load (const char *const *dirs, GPtrArray *problems)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_metadata_unref);

  for (const char *const *dir = dirs; dir != NULL && *dir != NULL; dir++)
    {
      g_autoptr(GPtrArray) files = devbg_xml_list_dir (*dir, problems);

      for (guint i = 0; i < files->len; i++)
        {
          const char *path = g_ptr_array_index (files, i);
          g_autofree char *data = NULL;
          gsize len = 0;
          g_autoptr(GError) error = NULL;
          DevbgMetadata *md;

          if (!g_file_get_contents (path, &data, &len, &error))
            {
              g_ptr_array_add (problems, g_strdup (error->message));
              continue;
            }
          md = devbg_metadata_parse (data, (gssize) len, path, &error);
          if (md == NULL)
            g_ptr_array_add (problems, g_strdup (error->message));
          else
            g_ptr_array_add (all, md);
        }
    }
  return all;
}
