/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One page of ListDevices as it crosses the bus: the bytes of a
 * DEVBG_DEVICES_PAGE_TYPE GVariant in its serialized form (little-endian,
 * normal form) instead of a typed a(sa{sv}), which GDBus would build,
 * dbus-daemon validate and GDBus parse back one value at a time (about
 * 30,000 values for 1,000 devices).
 *
 * The check trusts nothing (devbgd's reply is checked like any input), and
 * refuses a page a reader could loop on: see devbg_device_page_check().
 *
 * Internal to devbg (devbgd and libdevbg); not an installed header.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The page in @bytes as a DEVBG_DEVICES_PAGE_TYPE GVariant in this host's
 * byte order, or NULL with a DEVBG_ERROR_INVALID_ARGUMENT error naming the
 * problem when: it is not in normal form; an ID is empty, longer than
 * DEVBG_MAX_DEVICE_ID or not after the one before it (nor, the first,
 * after @after, the continuation the page was asked with); or
 * @next_continuation is not "" and not the page's last ID (an empty page
 * with a continuation never advances). */
GVariant *devbg_device_page_check (GBytes      *bytes,
                                   const char  *after,
                                   const char  *next_continuation,
                                   GError     **error);

G_END_DECLS
