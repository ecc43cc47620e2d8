/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GVariant's own verdict on a ListDevices page, the reference the unit
 * test and the fuzz target hold libdevbg's in-place reader
 * (devbg-device-page.h) to.
 */
#pragma once

#include <string.h>

#include <glib.h>

#include "devbg-names.h"

/* Whether @bytes are a DEVBG_DEVICES_PAGE_TYPE in normal form, with IDs
 * non-empty, within the limit and in order after @after, and @next "" or
 * the page's last ID. */
static inline gboolean
device_page_glib_takes (GBytes *bytes, const char *after, const char *next)
{
  g_autoptr(GVariant) page =
    g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (DEVBG_DEVICES_PAGE_TYPE),
                                                  bytes, FALSE));
  const char *id;

  if (!g_variant_is_normal_form (page) || (*next != '\0' && g_variant_n_children (page) == 0))
    return FALSE;
  for (gsize i = 0; i < g_variant_n_children (page); i++)
    {
      g_variant_get_child (page, i, "(&sa{sv})", &id, NULL);
      if (*id == '\0' || strlen (id) > DEVBG_MAX_DEVICE_ID || strcmp (id, after) <= 0)
        return FALSE;
      after = id;
    }
  return *next == '\0' || strcmp (after, next) == 0;
}
