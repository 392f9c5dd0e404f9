// The ORT managed sources use reflection types without importing System.Reflection on this target.
global using System.Reflection;
