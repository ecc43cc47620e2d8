/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the task control channel decoder, both directions.
 * The first input byte picks the direction (so one corpus covers both);
 * the rest is the packet. A packet that decodes must re-encode to the
 * same bytes and decode again to the same message: the format has exactly
 * one encoding per message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-channel.h"
#include "devbg-error.h"

static void
quiet_log (const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
  (void) domain; (void) level; (void) msg; (void) data;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) msg = NULL;
  g_autoptr(GBytes) again = NULL;
  DevbgChannelDirection dir;

  g_log_set_default_handler (quiet_log, NULL);
  if (size < 1)
    return 0;
  dir = (data[0] & 1) ? DEVBG_CHANNEL_TO_SERVICE : DEVBG_CHANNEL_TO_TASK;
  data++;
  size--;

  msg = devbg_channel_decode (data, size, dir, &error);
  if (msg == NULL)
    {
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE);
      return 0;
    }
  g_assert_no_error (error);
  again = devbg_channel_encode (msg, &error);
  g_assert_no_error (error);
  g_assert_nonnull (again);
  g_assert_cmpmem (g_bytes_get_data (again, NULL), g_bytes_get_size (again), data, size);
  return 0;
}
