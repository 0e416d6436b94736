// Package isolation tests, against the real engine, that kaj instances
// sharing one engine keep to their own objects, that objects kaj does not
// own are never taken, that objects made before instance IDs keep
// working, and that a crash mid-deploy leaves the app serving.
package isolation
