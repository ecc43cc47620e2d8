/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-device-page.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"
#include "devbg-utf8.h"

/* @id non-empty, within the limit, and after @last: a page in ID order,
 * as the continuation assumes. */
static gboolean
check_id (const char *id, gsize index, const char *last, GError **error)
{
  gsize length = strlen (id);

  if (length == 0 || length > DEVBG_MAX_DEVICE_ID)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: device %" G_GSIZE_FORMAT "'s ID is %s", index,
                   length == 0 ? "empty" : "too long");
      return FALSE;
    }
  if (strcmp (id, last) <= 0)
    {
      g_autofree char *quoted = devbg_utf8_excerpt (id, 64);
      g_autofree char *quoted_last = devbg_utf8_excerpt (last, 64);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: device %" G_GSIZE_FORMAT " '%s' is not after '%s'",
                   index, quoted, quoted_last);
      return FALSE;
    }
  return TRUE;
}

gboolean
devbg_device_page_foreach (GBytes *bytes, const char *after, const char *next_continuation,
                           DevbgDevicePageVisit visit, gpointer data, GError **error)
{
  DevbgSerialized page = { g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes) };
  DevbgSerializedArray iter;
  const char *last = after;
  gsize index = 0;

  if (!devbg_serialized_array_init (&iter, page, DEVBG_SERIALIZED_ALIGN_8))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: %" G_GSIZE_FORMAT " bytes are not an " DEVBG_DEVICES_PAGE_TYPE
                   " in normal form", page.size);
      return FALSE;
    }
  for (;; index++)
    {
      DevbgSerialized device, properties;
      gboolean done;
      const char *id;

      if (!devbg_serialized_array_next (&iter, &device, &done) ||
          (!done && !devbg_serialized_pair (device, DEVBG_SERIALIZED_ALIGN_8, &id, &properties)))
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "devices page: device %" G_GSIZE_FORMAT " is not an (sa{sv}) in normal "
                       "form", index);
          return FALSE;
        }
      if (done)
        break;
      if (!check_id (id, index, last, error))
        return FALSE;
      if (!visit (id, properties, data, error))
        {
          g_autofree char *quoted = devbg_utf8_excerpt (id, 64);

          g_prefix_error (error, "devices page: device '%s': ", quoted);
          return FALSE;
        }
      /* Points into @bytes, which the caller holds. */
      last = id;
    }
  /* A reader follows the continuation: one that is not the page's last
   * ID could send it back, or round in circles. */
  if (*next_continuation != '\0' && index == 0)
    {
      g_autofree char *quoted = devbg_utf8_excerpt (next_continuation, 64);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: the page is empty but has a continuation '%s'", quoted);
      return FALSE;
    }
  if (*next_continuation != '\0' && strcmp (next_continuation, last) != 0)
    {
      g_autofree char *quoted = devbg_utf8_excerpt (next_continuation, 64);
      g_autofree char *quoted_last = devbg_utf8_excerpt (last, 64);

      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: the continuation '%s' is not the page's last ID '%s'",
                   quoted, quoted_last);
      return FALSE;
    }
  return TRUE;
}

/* @value, of @type (@type_length bytes), in normal form: the types
 * devbgd sends read here, any other (one newer than this library)
 * through GVariant, with a copy. */
static gboolean
value_is_normal (const char *type, gsize type_length, DevbgSerialized value)
{
  gboolean ignored;
  const char *string;
  g_autoptr(GVariant) other = NULL;

  if (type_length == 1 && *type == 's')
    return devbg_serialized_string (value, &string);
  if (type_length == 1 && *type == 'b')
    return devbg_serialized_boolean (value, &ignored);
  if (type_length == 2 && memcmp (type, "as", 2) == 0)
    return devbg_serialized_strv (value, NULL);
  other = g_variant_ref_sink (g_variant_new_from_data ((const GVariantType *) type, value.data,
                                                       value.size, FALSE, NULL, NULL));
  return g_variant_is_normal_form (other);
}

gboolean
devbg_device_properties_foreach (DevbgSerialized properties, DevbgDevicePropertyVisit visit,
                                 gpointer data, GError **error)
{
  DevbgSerializedArray iter;

  if (!devbg_serialized_array_init (&iter, properties, DEVBG_SERIALIZED_ALIGN_8))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "its properties are not an a{sv} in normal form");
      return FALSE;
    }
  for (gsize index = 0;; index++)
    {
      DevbgSerialized entry, variant, value;
      const char *key = NULL, *type;
      gsize type_length;
      gboolean done;

      if (!devbg_serialized_array_next (&iter, &entry, &done) ||
          (!done && (!devbg_serialized_pair (entry, DEVBG_SERIALIZED_ALIGN_8, &key, &variant) ||
                     !devbg_serialized_variant (variant, &type, &type_length, &value) ||
                     !value_is_normal (type, type_length, value))))
        {
          g_autofree char *quoted = devbg_utf8_excerpt (key != NULL ? key : "?", 64);

          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "its property %" G_GSIZE_FORMAT " ('%s') is not an {sv} in normal form",
                       index, quoted);
          return FALSE;
        }
      if (done)
        return TRUE;
      visit (key, type, type_length, value, data);
    }
}
