/**
 * The compiled addon, loaded through the loader `napi build` generates. Kept in one place so
 * that the rest of the TypeScript never imports the binding directly.
 */
import type * as Binding from '../index'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Binding = require('../index.js')

export type NativeRoute = Binding.NativeRoute
export type RouteOptions = Binding.RouteOptions
export type RouteEvent = Binding.RouteEvent
export type EndpointStats = Binding.EndpointStats
export type DestinationOptions = Binding.DestinationOptions
export type ListenOptions = Binding.ListenOptions
export type TcpConnectOptions = Binding.TcpConnectOptions
export type FramingOptions = Binding.FramingOptions
