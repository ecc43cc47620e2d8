/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the packed records decoder (a ListRegistrations
 * page, which libdevbg decodes). The first input byte picks the fields per
 * record (1 to 8); the rest is the page. A page that decodes must encode
 * back to the same bytes: the format has one encoding per list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-records.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GByteArray) again = NULL;
  guint n_fields;

  if (size < 1)
    return 0;
  n_fields = 1 + data[0] % 8;
  data++;
  size--;
  fields = devbg_records_parse (data, size, n_fields, NULL);
  if (fields == NULL)
    return 0;
  if (fields->len % n_fields != 0)
    abort ();
  again = g_byte_array_new ();
  for (guint i = 0; i < fields->len; i++)
    {
      if (!g_utf8_validate (g_ptr_array_index (fields, i), -1, NULL))
        abort ();
      devbg_records_add (again, g_ptr_array_index (fields, i));
    }
  if (again->len != size || (size > 0 && memcmp (again->data, data, size) != 0))
    abort ();
  return 0;
}
