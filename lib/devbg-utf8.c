/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-utf8.h"

char *
devbg_utf8_excerpt (const char *text, gsize max_bytes)
{
  const char *valid_end;
  gsize length;

  g_utf8_validate (text, -1, &valid_end);
  length = MIN ((gsize) (valid_end - text), max_bytes);
  /* Within the valid part, a byte whose top two bits are 10 continues a
   * character: the cut goes back to where that character begins. */
  while (length > 0 && length < (gsize) (valid_end - text) &&
         ((guchar) text[length] & 0xC0) == 0x80)
    length--;
  return g_strndup (text, length);
}
