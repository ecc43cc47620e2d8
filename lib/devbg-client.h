/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The app side, in the shape of Windows' device background tasks:
 *
 *   DevbgClient     the connection to devbgd (the system bus, or
 *                   DBUS_SYSTEM_BUS_ADDRESS)
 *   DevbgTrigger    devbg_use_trigger_new() / devbg_servicing_trigger_new()
 *   DevbgTaskBuilder  name + entry point + trigger -> register()
 *   DevbgRegistration  task ID, name, entry point, trigger; unregister()
 *   devbg_client_get_all_tasks()  the app's registrations (AllTasks)
 *
 * The app never says who it is: devbgd derives that from the bus.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_CLIENT (devbg_client_get_type ())
G_DECLARE_FINAL_TYPE (DevbgClient, devbg_client, DEVBG, CLIENT, GObject)

#define DEVBG_TYPE_TRIGGER (devbg_trigger_get_type ())
G_DECLARE_FINAL_TYPE (DevbgTrigger, devbg_trigger, DEVBG, TRIGGER, GObject)

#define DEVBG_TYPE_TASK_BUILDER (devbg_task_builder_get_type ())
G_DECLARE_FINAL_TYPE (DevbgTaskBuilder, devbg_task_builder, DEVBG, TASK_BUILDER, GObject)

#define DEVBG_TYPE_REGISTRATION (devbg_registration_get_type ())
G_DECLARE_FINAL_TYPE (DevbgRegistration, devbg_registration, DEVBG, REGISTRATION, GObject)

/* ---- client ---- */

DevbgClient     *devbg_client_new_sync (GCancellable *cancellable,
                                        GError      **error);
DevbgClient     *devbg_client_new_for_connection (GDBusConnection *connection);
GDBusConnection *devbg_client_get_connection (DevbgClient *client);

/* GetStatus, as an a{sv} GVariant (see the D-Bus API). */
GVariant        *devbg_client_get_status_sync (DevbgClient  *client,
                                               GCancellable *cancellable,
                                               GError      **error);

/* The app's registrations, as a task ID -> DevbgRegistration table
 * (Windows' BackgroundTaskRegistration.AllTasks). */
GHashTable      *devbg_client_get_all_tasks_sync (DevbgClient  *client,
                                                  GCancellable *cancellable,
                                                  GError      **error);

/* The app's registration named @name, or NULL (and no error) when none. */
DevbgRegistration *devbg_client_find_task_sync (DevbgClient  *client,
                                                const char   *name,
                                                GCancellable *cancellable,
                                                GError      **error);

/* ---- triggers ---- */

DevbgTrigger    *devbg_use_trigger_new (void);
DevbgTrigger    *devbg_servicing_trigger_new (void);
DevbgTriggerType devbg_trigger_get_trigger_type (DevbgTrigger *trigger);

/* ---- building a registration ---- */

DevbgTaskBuilder  *devbg_task_builder_new (void);
void               devbg_task_builder_set_name (DevbgTaskBuilder *builder,
                                                const char       *name);
void               devbg_task_builder_set_task_entry_point (DevbgTaskBuilder *builder,
                                                            const char       *entry_point);
void               devbg_task_builder_set_trigger (DevbgTaskBuilder *builder,
                                                   DevbgTrigger     *trigger);
/* Registers with devbgd; the arguments are checked there (the entry point
 * must be declared in the app's manifest for the trigger's type). */
DevbgRegistration *devbg_task_builder_register_sync (DevbgTaskBuilder *builder,
                                                     DevbgClient      *client,
                                                     GCancellable     *cancellable,
                                                     GError          **error);

/* ---- a registration ---- */

const char      *devbg_registration_get_task_id (DevbgRegistration *reg);
const char      *devbg_registration_get_name (DevbgRegistration *reg);
const char      *devbg_registration_get_entry_point (DevbgRegistration *reg);
DevbgTriggerType devbg_registration_get_trigger_type (DevbgRegistration *reg);

/* Removes the registration; @cancel_task true also cancels its running
 * instance (reason abort), false lets it finish. */
gboolean         devbg_registration_unregister_sync (DevbgRegistration *reg,
                                                     gboolean           cancel_task,
                                                     GCancellable      *cancellable,
                                                     GError           **error);

G_END_DECLS
