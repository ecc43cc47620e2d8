/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: how the client makes a DevbgDeviceInfo.
 */
#pragma once

#include "devbg-device-info.h"
#include "devbg-serialized.h"

G_BEGIN_DECLS

/* From a device's ID and properties (a{sv}) as GetDevice answers them;
 * NULL with a DEVBG_ERROR_INVALID_ARGUMENT error when they are not in
 * normal form. Missing or mistyped properties read as empty. */
DevbgDeviceInfo *devbg_device_info_new            (const char       *id,
                                                   GVariant         *properties,
                                                   GError          **error);
/* The same from the serialized properties (little-endian), as a
 * ListDevices page holds them; the info keeps a copy of their bytes. */
DevbgDeviceInfo *devbg_device_info_new_serialized (const char       *id,
                                                   DevbgSerialized   properties,
                                                   GError          **error);

G_END_DECLS
