/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgDevices: every device of every backend, by stable ID, and the
 * org.devbg.Devbg1.Devices interface (data/org.devbg.Devbg1.Devices.xml).
 *
 * The C API for the task runtime:
 *
 *   DevbgDevice *d = devbg_devices_lookup (devices, id);   NULL: not attached
 *   devbg_device_get_protocol (d), devbg_device_get_hardware_ids (d),
 *   devbg_device_get_model_id (d), devbg_device_get_attached (d), ...
 *                                                  (see devbg-device.h)
 *   devbg_devices_open_async (devices, d, cancellable, cb, data);
 *   int fd = devbg_devices_open_finish (devices, result, &error);
 *       the fd to hand to the task process; the caller owns it and closes
 *       its copy once handed over (devbgd stays out of the data path).
 *       Errors: DEVBG_ERROR_NO_SUCH_DEVICE (gone meanwhile), DEVBG_ERROR_FAILED.
 *   guint64 n = devbg_devices_get_io_counter (devices, d);
 *       cheap and synchronous (no D-Bus, no syscall for the virtual
 *       backend): sample it while a use task runs; only changes matter.
 *
 *   Signals, on the main context, each with the DevbgDevice:
 *     "device-added"    a device arrived (or came back: same ID, new object)
 *     "device-removed"  a device left; it is already marked not attached.
 *                       A use task on it is canceled (ConditionLoss); a
 *                       servicing task waits for "device-added" with the
 *                       same ID (the device rebooting after an update).
 *     "device-changed"  its properties changed (e.g. its name)
 *   and each DevbgDevice emits "removed" itself, for a task that holds it.
 *
 * Nothing here wakes up on its own: every change comes from a backend's
 * event.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-backend.h"
#include "devbg-config.h"
#include "devbg-manifest.h"
#include "devbg-names.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_DEVICES (devbg_devices_get_type ())
G_DECLARE_FINAL_TYPE (DevbgDevices, devbg_devices, DEVBG, DEVICES, GObject)

/* Creates the backends that @config enables (the virtual one follows
 * devbg-sim on @connection; the udev one reads which USB products are one
 * device from the metadata in @metadata_dirs) and starts them. */
DevbgDevices *devbg_devices_new (const DevbgConfig *config, GDBusConnection *connection,
                                 const char *const *metadata_dirs);

/* Adds a backend and starts it (for tests, and for backends made elsewhere). */
void          devbg_devices_add_backend (DevbgDevices *devices, DevbgBackend *backend);

/* Runs the main loop until every backend has listed the devices there at
 * its start (each backend's "settled"), for @timeout_ms at most: FALSE,
 * with a warning naming each late backend, when some were not. Their
 * devices are added whenever they come. */
gboolean      devbg_devices_wait_settled (DevbgDevices *devices, guint timeout_ms);

/* Serves org.devbg.Devbg1.Devices on the devices' connection at
 * /org/devbg/Devbg1. */
gboolean      devbg_devices_export (DevbgDevices *devices, GError **error);

/* Who asks for the device list, as the daemon identified the caller. */
typedef struct {
  gboolean                  is_app;   /* FALSE: a tool or root; it sees every device */
  const char               *app_id;
  const DevbgManifest      *manifest; /* the app's manifest today; NULL: it declares nothing */
} DevbgDevicesViewer;

/* Answers @invocation (ListDevices; GetDevice, whose parameters it reads)
 * as @viewer may see it: an app sees only the devices a DeviceCapability
 * of its manifest covers (devbg_manifest_declares_device(), the rule of
 * the request's device-not-declared), GetDevice of another answers
 * NoSuchDevice; @viewer NULL sees all. Consumes @invocation.
 * ListDevices answers one page: the visible devices whose IDs sort after
 * @continuation ("" for the first page), at most
 * DEVBG_DEVICES_PAGE_MAX_ENTRIES of them in at most @max_bytes serialized
 * (but always one), as the bytes of a DEVBG_DEVICES_PAGE_TYPE
 * (devbg-device-page.h) and the next page's continuation. A continuation
 * longer than DEVBG_MAX_DEVICE_ID answers InvalidArgument. */
void          devbg_devices_return_list (DevbgDevices *devices, GDBusMethodInvocation *invocation,
                                         const DevbgDevicesViewer *viewer,
                                         const char *continuation, gsize max_bytes);
void          devbg_devices_return_device (DevbgDevices *devices,
                                           GDBusMethodInvocation *invocation,
                                           const DevbgDevicesViewer *viewer);

/* ListDevices and GetDevice go to @router (the daemon, which identifies
 * the caller and answers with devbg_devices_return_*()); without one,
 * every caller sees every device. @router takes @invocation. */
typedef void (*DevbgDevicesRouter) (const char            *method,
                                    GDBusMethodInvocation *invocation,
                                    gpointer               user_data);
void          devbg_devices_set_router (DevbgDevices *devices, DevbgDevicesRouter router,
                                        gpointer user_data);

/* The attached device with @id, or NULL. Not a new reference. */
DevbgDevice  *devbg_devices_lookup (DevbgDevices *devices, const char *id);
/* The attached devices, sorted by ID; a new array of new references. */
GPtrArray    *devbg_devices_list (DevbgDevices *devices);

void          devbg_devices_open_async (DevbgDevices *devices, DevbgDevice *device,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
int           devbg_devices_open_finish (DevbgDevices *devices, GAsyncResult *result,
                                         GError **error);
guint64       devbg_devices_get_io_counter (DevbgDevices *devices, DevbgDevice *device);
/* Whether @device is gone now, its removal not yet heard of: what its
 * backend can tell without waiting for the event (devbg-backend.h). */
gboolean      devbg_devices_is_gone (DevbgDevices *devices, DevbgDevice *device);

G_END_DECLS
