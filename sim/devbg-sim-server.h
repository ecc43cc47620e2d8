/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The simulator's core: simulated peripherals (a fitness band and a USB
 * dock, see README.md), each opened through its node (a listening unix
 * socket), exported on a bus as org.devbg.Sim1. devbg-sim is a thin main() around it; a test or a
 * benchmark may link it and run a simulator in its own process.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-names.h"

G_BEGIN_DECLS

#define DEVBG_SIM_BUS_NAME    DEVBG_SIM_DBUS_SERVICE
#define DEVBG_SIM_OBJECT_PATH DEVBG_SIM_DBUS_PATH
#define DEVBG_SIM_IFACE       DEVBG_SIM_DBUS_INTERFACE

#define DEVBG_SIM_ERROR (devbg_sim_error_quark ())
typedef enum {
  DEVBG_SIM_ERROR_NO_SUCH_DEVICE, /* org.devbg.Sim1.Error.NoSuchDevice */
  DEVBG_SIM_ERROR_INVALID,        /* org.devbg.Sim1.Error.Invalid */
  DEVBG_SIM_ERROR_NOT_ATTACHED,   /* org.devbg.Sim1.Error.NotAttached */
} DevbgSimError;
GQuark devbg_sim_error_quark (void);

typedef struct _DevbgSimServer DevbgSimServer;

/* Exports the simulator on @connection (the caller owns the bus name).
 * Each attached device listens at @socket_dir/<its ID>; with @socket_dir
 * NULL, in a private directory removed by devbg_sim_server_free(). */
DevbgSimServer *devbg_sim_server_new (GDBusConnection *connection, const char *socket_dir,
                                      GError **error);
void            devbg_sim_server_free (DevbgSimServer *sim);

/* Adds and attaches a device; @options as AddDevice's (may be NULL).
 * Returns the device's ID, owned by the simulator. */
const char     *devbg_sim_server_add (DevbgSimServer *sim, const char *kind,
                                      GVariant *options, GError **error);
gboolean        devbg_sim_server_set_fault (DevbgSimServer *sim, const char *id,
                                            const char *fault, guint value, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgSimServer, devbg_sim_server_free)

G_END_DECLS
