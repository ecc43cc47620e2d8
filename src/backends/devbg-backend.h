/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgBackend: the one interface every device backend implements (DESIGN
 * section 4: udev for USB/HID/MTP/net/ioctl nodes, BlueZ for RFCOMM and
 * GATT, and the virtual backend served by devbg-sim).
 *
 * A backend, once started, announces every device it has and every later
 * arrival with "device-added", a removal with "device-removed" and a change
 * of properties with "device-changed", always from the main context and
 * always from an event (uevent, D-Bus signal), never by polling. It grants
 * access by opening the device for a task (an fd: a usbfs or hidraw node, an
 * RFCOMM socket, a socket bound to an interface, a simulator's channel), and
 * reads an I/O activity counter (urbnum, fsnotify counts, interface
 * statistics, the simulator's counter) cheaply and synchronously, as the
 * liveness policy samples it while a task runs.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-device.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_BACKEND (devbg_backend_get_type ())
G_DECLARE_INTERFACE (DevbgBackend, devbg_backend, DEVBG, BACKEND, GObject)

struct _DevbgBackendInterface {
  GTypeInterface parent;

  /* "virtual", "udev", "bluez": the first part of the devices' IDs. */
  const char *(*get_name) (DevbgBackend *backend);
  /* Enumerates and starts watching; devices come as "device-added", and
   * "settled" once the devices there at the start are in. */
  void        (*start) (DevbgBackend *backend);
  void        (*open_async) (DevbgBackend *backend, DevbgDevice *device,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
  int         (*open_finish) (DevbgBackend *backend, GAsyncResult *result, GError **error);
  /* A counter that grows with I/O to the device, since some origin; only
   * its changes mean something. 0 when the backend cannot tell yet. */
  guint64     (*get_io_counter) (DevbgBackend *backend, DevbgDevice *device);
  /* Optional: whether @device is gone now, though its removal has not
   * come as an event yet (a task's write to it fails before udev has
   * told of the unplug). FALSE when the backend cannot tell but from its
   * events. */
  gboolean    (*is_gone) (DevbgBackend *backend, DevbgDevice *device);
};

const char *devbg_backend_get_name (DevbgBackend *backend);
void        devbg_backend_start (DevbgBackend *backend);
void        devbg_backend_open_async (DevbgBackend *backend, DevbgDevice *device,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
/* The new fd (the caller owns it), or -1 with @error set. */
int         devbg_backend_open_finish (DevbgBackend *backend, GAsyncResult *result,
                                       GError **error);
guint64     devbg_backend_get_io_counter (DevbgBackend *backend, DevbgDevice *device);
gboolean    devbg_backend_is_gone (DevbgBackend *backend, DevbgDevice *device);

/* For implementations. */
void devbg_backend_emit_added (DevbgBackend *backend, DevbgDevice *device);
void devbg_backend_emit_removed (DevbgBackend *backend, DevbgDevice *device);
void devbg_backend_emit_changed (DevbgBackend *backend, DevbgDevice *device);
/* "settled": the backend's first listing is done, its devices added, or
 * there is nothing to list (its service is not there, or refused). May
 * come again (the service restarted); only the first one matters. */
void devbg_backend_emit_settled (DevbgBackend *backend);

/* The virtual backend: devices served by devbg-sim (org.devbg.Sim1) on
 * @connection, followed from when the simulator appears on the bus. */
DevbgBackend *devbg_backend_virtual_new (GDBusConnection *connection);

/* The udev backend (built when GUdev is found: HAVE_GUDEV): real USB, HID,
 * serial, MTP and vendor ioctl devices. Available where sysfs is.
 * @families (may be NULL): "USB\VID_xxxx&PID_yyyy" -> the family name of
 * the products that are one device by the vendor's metadata (see
 * devbg_hwid_metadata_family()); a udev DEVBG_FAMILY property wins. */
gboolean      devbg_backend_udev_available (void);
DevbgBackend *devbg_backend_udev_new (GHashTable *families);

/* A backend follows a service on the bus (devbg-sim, bluetoothd,
 * avahi-daemon) only when the process that owns its name is trusted, as
 * devbgd itself is, whatever a bus's policy lets own it. This asks the bus
 * which uid and process own @owner (GetConnectionCredentials) and calls
 * @done with them (G_MAXUINT32 for what the bus did not say); not at all
 * once @cancellable is canceled. Each backend decides which uids it
 * trusts. */
typedef void (*DevbgOwnerFunc) (gpointer    user_data,
                                const char *owner,
                                guint32     uid,
                                guint32     pid);

void devbg_backend_check_owner (GDBusConnection *connection,
                                const char      *owner,
                                GCancellable    *cancellable,
                                DevbgOwnerFunc   done,
                                gpointer         user_data);

/* The BlueZ backend: paired Bluetooth devices' RFCOMM and GATT services,
 * through bluetoothd (org.bluez) on @connection, followed from when it
 * appears on the bus. */
DevbgBackend *devbg_backend_bluez_new (GDBusConnection *connection);

/* The network backend: DNS-SD instances of @service_types ("_x._tcp"),
 * found through avahi-daemon (org.freedesktop.Avahi) on @connection.
 * With no types it does nothing at all. */
DevbgBackend *devbg_backend_net_new (GDBusConnection *connection,
                                     const char *const *service_types);

G_END_DECLS
