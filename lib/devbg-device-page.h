/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A device as it crosses the bus, read in place.
 *
 * One page of ListDevices is the bytes of a DEVBG_DEVICES_PAGE_TYPE
 * GVariant in its serialized form (little-endian, normal form) instead of
 * a typed a(sa{sv}), which GDBus would build, dbus-daemon validate and
 * GDBus parse back one value at a time (about 30,000 values for 1,000
 * devices). A device's properties are the a{sv} of that page, or of
 * GetDevice's reply.
 *
 * Both are read with devbg-serialized.h, without a GVariant per value,
 * and trust nothing (devbgd's reply is checked like any input): what they
 * accept is in normal form, and a page a reader could loop on is refused
 * (see devbg_device_page_foreach()).
 *
 * Internal to devbg (libdevbg and its fuzz target); not an installed header.
 */
#pragma once

#include <glib.h>

#include "devbg-serialized.h"

G_BEGIN_DECLS

/* One device of a page: its ID, and its properties' a{sv} (unread). */
typedef gboolean (*DevbgDevicePageVisit) (const char      *id,
                                          DevbgSerialized  properties,
                                          gpointer         data,
                                          GError         **error);

/* Calls @visit for each device of the page in @bytes, in order, and
 * answers FALSE with a DEVBG_ERROR_INVALID_ARGUMENT error naming the
 * problem (or @visit's) when: the page is not a DEVBG_DEVICES_PAGE_TYPE in
 * normal form; an ID is empty, longer than DEVBG_MAX_DEVICE_ID or not
 * after the one before it (nor, the first, after @after, the continuation
 * the page was asked with); or @next_continuation is not "" and not the
 * page's last ID (an empty page with a continuation never advances). The
 * devices visited before a FALSE are the caller's to drop. */
gboolean devbg_device_page_foreach (GBytes               *bytes,
                                    const char           *after,
                                    const char           *next_continuation,
                                    DevbgDevicePageVisit  visit,
                                    gpointer              data,
                                    GError              **error);

/* One property, its value in normal form for its type (@type, not
 * NUL-terminated: @type_length bytes). */
typedef void (*DevbgDevicePropertyVisit) (const char      *key,
                                          const char      *type,
                                          gsize            type_length,
                                          DevbgSerialized  value,
                                          gpointer         data);

/* Calls @visit for each property of @properties (a{sv}, little-endian)
 * after checking its value, or answers FALSE with a
 * DEVBG_ERROR_INVALID_ARGUMENT error naming the property that is not in
 * normal form. */
gboolean devbg_device_properties_foreach (DevbgSerialized            properties,
                                          DevbgDevicePropertyVisit   visit,
                                          gpointer                   data,
                                          GError                   **error);

G_END_DECLS
