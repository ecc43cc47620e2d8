/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-device-page.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"

/* Each ID non-empty, within the limit, and after the one before: a page
 * in ID order, as the continuation assumes. */
static gboolean
check_ids (GVariant *page, const char *after, const char **last, GError **error)
{
  gsize n = g_variant_n_children (page);

  *last = after;
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (page, i);
      const char *id;
      gsize length;

      g_variant_get_child (entry, 0, "&s", &id);
      length = strlen (id);
      if (length == 0 || length > DEVBG_MAX_DEVICE_ID)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "devices page: device %" G_GSIZE_FORMAT "'s ID is %s", i,
                       length == 0 ? "empty" : "too long");
          return FALSE;
        }
      if (strcmp (id, *last) <= 0)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "devices page: device %" G_GSIZE_FORMAT " '%.64s' is not after '%.64s'",
                       i, id, *last);
          return FALSE;
        }
      /* Points into @page, which the caller holds. */
      *last = id;
    }
  return TRUE;
}

GVariant *
devbg_device_page_check (GBytes *bytes, const char *after, const char *next_continuation,
                         GError **error)
{
  g_autoptr(GVariant) page =
    g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (DEVBG_DEVICES_PAGE_TYPE),
                                                  bytes, FALSE));
  const char *last;

  if (!g_variant_is_normal_form (page))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: %" G_GSIZE_FORMAT " bytes are not an " DEVBG_DEVICES_PAGE_TYPE
                   " in normal form", g_bytes_get_size (bytes));
      return NULL;
    }
#if G_BYTE_ORDER == G_BIG_ENDIAN
  {
    GVariant *swapped = g_variant_byteswap (page);

    g_variant_unref (page);
    page = swapped;
  }
#endif
  if (!check_ids (page, after, &last, error))
    return NULL;
  /* A reader follows the continuation: one that is not the page's last
   * ID could send it back, or round in circles. */
  if (*next_continuation != '\0' && g_variant_n_children (page) == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: the page is empty but has a continuation '%.64s'",
                   next_continuation);
      return NULL;
    }
  if (*next_continuation != '\0' && strcmp (next_continuation, last) != 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "devices page: the continuation '%.64s' is not the page's last ID '%.64s'",
                   next_continuation, last);
      return NULL;
    }
  return g_steal_pointer (&page);
}
