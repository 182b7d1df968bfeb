output "scanner_private_ip" {
  description = "The scanner host's private address."
  value       = module.scanner.private_ip
}

output "scanner_instance_id" {
  description = "The scanner host's instance id."
  value       = module.scanner.instance_id
}

output "inventory" {
  description = "Hosts for the scanner group of ansible/inventories/staging/hosts.yml (terraform output -json inventory)."
  value       = module.scanner.inventory
}
