/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "devbg-records.h"
#include "devbg-error.h"

GPtrArray *
devbg_records_parse (const guint8 *page, gsize size, guint n_fields, GError **error)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new ();
  const char *p = (const char *) page;
  const char *end = p + size;

  g_return_val_if_fail (n_fields > 0, NULL);
  if (size > 0 && page[size - 1] != '\0')
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: the page does not end with a NUL");
      return NULL;
    }
  while (p < end)
    {
      const char *nul = memchr (p, '\0', (size_t) (end - p));

      /* Checked above: the last byte is a NUL. */
      if (!g_utf8_validate (p, nul - p, NULL))
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "packed records: field %u is not UTF-8", fields->len);
          return NULL;
        }
      g_ptr_array_add (fields, (gpointer) p);
      p = nul + 1;
    }
  if (fields->len % n_fields != 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: %u fields are not whole records of %u", fields->len,
                   n_fields);
      return NULL;
    }
  return g_steal_pointer (&fields);
}
